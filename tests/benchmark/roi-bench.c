/* convnext-roi-bench: a 1920x1080 I420 frame with 8 regions through convnextclassify
 * inference-region=roi-list, the 8 regions in one forward call (batch-size=8) against 8
 * separate calls (batch-size=1), in the same process, rounds alternating between the two.
 *
 *   convnext-roi-bench --model DIR [--frames N] [--threads T]
 *
 * Per frame: the time of gst_harness_push_and_pull() (the element's whole transform: 8
 * crops preprocessed + forward + top-k + metadata).  Prints one JSON line: medians in ms for
 * both, the ratio of the medians (one call / 8 calls; < 1 is faster) and paired_ratio, the
 * median over frames of the ratio of the two times measured back to back (load that comes and
 * goes hits both alike).
 */
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <stdlib.h>

#include "gstconvnextmeta.h"

static const gint boxes[8][4] = {
  { 100, 100, 200, 260 }, { 400, 120, 180, 180 }, { 700, 300, 320, 400 },
  { 1100, 90, 150, 210 }, { 1400, 500, 400, 300 }, { 200, 600, 260, 260 },
  { 900, 700, 120, 160 }, { 1600, 100, 220, 330 },
};

static GstHarness *
make_harness (const gchar *model, guint threads, guint batch)
{
  GstElement *e = gst_element_factory_make ("convnextclassify", NULL);
  GstHarness *h;

  if (e == NULL) {
    g_print ("{\"status\": \"n/a\", \"reason\": \"convnextclassify not found\"}\n");
    exit (0);
  }
  g_object_set (e, "model", model, "threads", threads, "batch-size", batch, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "inference-region", "roi-list");
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=1920,height=1080,"
      "framerate=30/1");
  return h;
}

static GstBuffer *
make_frame (void)
{
  GstVideoInfo info;
  GstBuffer *buf;
  GstMapInfo map;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 1920, 1080);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = (guint8) ((i * 2654435761u) >> 13);
  gst_buffer_unmap (buf, &map);
  for (guint i = 0; i < 8; i++) {
    GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta (buf,
        "object", boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3]);
    roi->id = (gint) i + 1;
  }
  return buf;
}

static double
push (GstHarness *h, GstBuffer *frame)
{
  gint64 t0 = g_get_monotonic_time ();
  GstBuffer *out = gst_harness_push_and_pull (h, gst_buffer_copy (frame));
  double ms = (g_get_monotonic_time () - t0) / 1000.0;
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (out);

  if (meta == NULL || meta->n_objects != 8) {
    g_printerr ("expected 8 objects\n");
    exit (1);
  }
  gst_buffer_unref (out);
  return ms;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  gchar *model = NULL;
  gint frames = 20, threads = 2;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "checkpoint directory", "DIR" },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "frames per configuration", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "inference threads", "T" },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new (NULL);
  GError *error = NULL;
  GstHarness *batched, *single;
  GstBuffer *frame;
  double *tb, *ts, *pairs;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || model == NULL || frames < 1) {
    g_printerr ("%s\n", error ? error->message : "--model DIR is required, --frames >= 1");
    return 1;
  }
  g_option_context_free (ctx);
  batched = make_harness (model, threads, 8);
  single = make_harness (model, threads, 1);
  frame = make_frame ();
  tb = g_new (double, frames);
  ts = g_new (double, frames);
  pairs = g_new (double, frames);
  push (batched, frame);        /* warm-up: builds each shape's primitives */
  push (single, frame);
  for (gint i = 0; i < frames; i++) {
    if (i % 2) {
      tb[i] = push (batched, frame);
      ts[i] = push (single, frame);
    } else {
      ts[i] = push (single, frame);
      tb[i] = push (batched, frame);
    }
  }
  for (gint i = 0; i < frames; i++)
    pairs[i] = tb[i] / ts[i];
  qsort (pairs, frames, sizeof (double), cmp);
  qsort (tb, frames, sizeof (double), cmp);
  qsort (ts, frames, sizeof (double), cmp);
  g_print ("{\"frame\": \"1920x1080 I420, 8 ROIs\", \"threads\": %d, \"frames\": %d, "
      "\"batch8_ms\": %.2f, \"batch8_min_ms\": %.2f, \"eight_calls_ms\": %.2f, "
      "\"eight_calls_min_ms\": %.2f, \"ratio\": %.3f, \"paired_ratio\": %.3f}\n", threads, frames,
      tb[frames / 2], tb[0], ts[frames / 2], ts[0], tb[frames / 2] / ts[frames / 2],
      pairs[frames / 2]);
  gst_buffer_unref (frame);
  gst_harness_teardown (batched);
  gst_harness_teardown (single);
  g_free (tb);
  g_free (ts);
  g_free (pairs);
  g_free (model);
  return 0;
}
