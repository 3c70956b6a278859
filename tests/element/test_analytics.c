/* gst-check tests of convnextclassify's GstAnalytics output (built against GStreamer >= 1.24).
 *
 * The ClsMtd is checked against the element's own GstConvNextClassificationMeta on the same
 * buffer (whose values the convnextclassify tests check against the PyTorch reference): the same
 * labels in the same order, levels equal to the scores within 1e-6, after tee, queue and a
 * videoconvert that makes a new buffer (so the relation meta must be carried over).
 */
#include <gst/analytics/analytics.h>
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>

#include "gstconvnextmeta.h"

#define LEVEL_TOL 1e-6

/* How many ClsMtds @buf's relation meta holds; the first into @first. */
static guint
count_cls_mtds (GstBuffer *buf, GstAnalyticsClsMtd *first)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsClsMtd mtd;
  gpointer state = NULL;
  guint n = 0;

  while (rmeta && gst_analytics_relation_meta_iterate (rmeta, &state,
          gst_analytics_cls_mtd_get_mtd_type (), &mtd)) {
    if (n++ == 0)
      *first = mtd;
  }
  return n;
}

static guint
count_relation_metas (GstBuffer *buf)
{
  gpointer state = NULL;
  guint n = 0;

  while (gst_buffer_iterate_meta_filtered (buf, &state, GST_ANALYTICS_RELATION_META_API_TYPE))
    n++;
  return n;
}

static void
assert_same_top_k (GstBuffer *buf, guint frame)
{
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
  GstAnalyticsClsMtd mtd;

  fail_unless (meta != NULL, "frame %u: no convnext meta", frame);
  fail_unless (meta->n_classes > 0, "frame %u: empty result", frame);
  fail_unless_equals_int (count_relation_metas (buf), 1);
  fail_unless_equals_int (count_cls_mtds (buf, &mtd), 1);
  fail_unless_equals_int (gst_analytics_cls_mtd_get_length (&mtd), meta->n_classes);
  for (guint i = 0; i < meta->n_classes; i++) {
    const gchar *label = g_quark_to_string (gst_analytics_cls_mtd_get_quark (&mtd, i));
    gfloat level = gst_analytics_cls_mtd_get_level (&mtd, i);

    fail_unless_equals_string (label, meta->classes[i].label);
    fail_unless (fabs (level - meta->classes[i].score) <= LEVEL_TOL,
        "frame %u class %u: level %g, score %g", frame, i, level, meta->classes[i].score);
  }
}

/* videotestsrc ! convnextclassify ! tee ! queue ! videoconvert (RGB → I420) ! appsink, with a
 * second tee branch to a fakesink: every frame carries one ClsMtd equal to the convnext meta. */
GST_START_TEST (test_cls_mtd_matches_meta)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=4 pattern=ball "
      "! video/x-raw,format=RGB,width=64,height=48,framerate=30/1 "
      "! convnextclassify model=" TINY_MODEL_DIR " top-k=5 threads=1 ! tee name=t "
      "t. ! queue ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false "
      "t. ! queue ! fakesink sync=false", NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  guint frames = 0;

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  for (;;) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);

    if (sample == NULL)
      break;
    assert_same_top_k (gst_sample_get_buffer (sample), frames++);
    gst_sample_unref (sample);
  }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)), "no EOS within 30 s");
  fail_unless_equals_int (frames, 4);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}
GST_END_TEST;

static GstHarness *
classify_harness (const gchar *props)
{
  gchar *desc = g_strdup_printf ("convnextclassify model=" TINY_MODEL_DIR " threads=1 %s", props);
  GstHarness *h = gst_harness_new_parse (desc);

  g_free (desc);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  return h;
}

static GstBuffer *
grey_frame (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL);

  gst_buffer_memset (buf, 0, 0x80, 64 * 48 * 3);
  GST_BUFFER_PTS (buf) = 0;
  return buf;
}

/* A detector upstream already added a relation meta with an object detection: the ClsMtd goes
 * into that one (a buffer has one relation meta), and the detection stays. */
GST_START_TEST (test_adds_to_upstream_relation_meta)
{
  GstHarness *h = classify_harness ("top-k=3");
  GstBuffer *in = grey_frame (), *out;
  GstAnalyticsRelationMeta *rmeta = gst_buffer_add_analytics_relation_meta (in);
  GstAnalyticsODMtd od;
  GstAnalyticsClsMtd cls;
  gpointer state = NULL;

  fail_unless (gst_analytics_relation_meta_add_od_mtd (rmeta, g_quark_from_string ("person"),
          1, 2, 30, 40, 0.8f, &od));
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  assert_same_top_k (out, 0);
  rmeta = gst_buffer_get_analytics_relation_meta (out);
  fail_unless (gst_analytics_relation_meta_iterate (rmeta, &state,
          gst_analytics_od_mtd_get_mtd_type (), &od));
  fail_unless_equals_int (count_cls_mtds (out, &cls), 1);
  fail_unless_equals_int (gst_analytics_relation_get_length (rmeta), 2);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* No class passes the threshold: the convnext meta says so (empty), and no ClsMtd is written. */
GST_START_TEST (test_nothing_above_threshold)
{
  GstHarness *h = classify_harness ("threshold=1.0");
  GstBuffer *out;
  GstConvNextClassificationMeta *meta;

  fail_unless_equals_int (gst_harness_push (h, grey_frame ()), GST_FLOW_OK);
  out = gst_harness_pull (h);
  meta = gst_buffer_get_convnext_classification_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_classes, 0);
  fail_unless (gst_buffer_get_analytics_relation_meta (out) == NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* roi-list on ODMtds alone: each OD (with a TrackingMtd) gets a ClsMtd related OD
 * -CONTAIN|RELATE_TO-> Cls and Cls -IS_PART_OF-> OD whose levels are the object's scores; the
 * object is keyed by its tracking id, so reclassify-interval=0 classifies it once; a "car"
 * OD outside object-class gets nothing. */
GST_START_TEST (test_roi_list_od)
{
  GstHarness *h = classify_harness ("inference-region=roi-list object-class=person "
      "reclassify-interval=0 top-k=3");

  for (guint f = 0; f < 3; f++) {
    GstBuffer *in = grey_frame (), *out;
    GstAnalyticsRelationMeta *rmeta = gst_buffer_add_analytics_relation_meta (in);
    GstAnalyticsODMtd od, car;
    GstAnalyticsTrackingMtd track;
    GstAnalyticsClsMtd cls;
    GstConvNextClassificationMeta *meta;

    fail_unless (gst_analytics_relation_meta_add_od_mtd (rmeta,
            g_quark_from_string ("person"), 2 + f, 3, 30, 40, 0.8f, &od));
    fail_unless (gst_analytics_relation_meta_add_od_mtd (rmeta, g_quark_from_string ("car"),
            1, 1, 20, 20, 0.9f, &car));
    fail_unless (gst_analytics_relation_meta_add_tracking_mtd (rmeta, 77, 0, &track));
    fail_unless (gst_analytics_relation_meta_set_relation (rmeta,
            GST_ANALYTICS_REL_TYPE_RELATE_TO, od.id, track.id));
    GST_BUFFER_PTS (in) = f * GST_SECOND / 30;
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    out = gst_harness_pull (h);
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL);
    fail_unless_equals_int (meta->n_objects, 1);
    fail_unless_equals_int (meta->objects[0].roi_id, -1);
    fail_unless_equals_int (meta->objects[0].od_id, od.id);
    fail_unless (meta->objects[0].has_tracking_id);
    fail_unless_equals_int (meta->objects[0].tracking_id, 77);
    fail_unless_equals_int (meta->objects[0].frame_number, 0);
    fail_unless_equals_int (meta->objects[0].x, 2 + f);
    rmeta = gst_buffer_get_analytics_relation_meta (out);
    fail_unless (gst_analytics_relation_meta_get_direct_related (rmeta, od.id,
            GST_ANALYTICS_REL_TYPE_RELATE_TO, gst_analytics_cls_mtd_get_mtd_type (), NULL,
            (GstAnalyticsMtd *) & cls));
    fail_unless (gst_analytics_relation_meta_get_relation (rmeta, od.id, cls.id)
        & GST_ANALYTICS_REL_TYPE_CONTAIN);
    fail_unless_equals_int (gst_analytics_relation_meta_get_relation (rmeta, cls.id, od.id),
        GST_ANALYTICS_REL_TYPE_IS_PART_OF);
    fail_unless_equals_int (gst_analytics_cls_mtd_get_length (&cls), meta->objects[0].n_classes);
    for (guint i = 0; i < meta->objects[0].n_classes; i++)
      fail_unless (fabs (gst_analytics_cls_mtd_get_level (&cls, i)
              - meta->objects[0].classes[i].score) <= LEVEL_TOL);
    fail_if (gst_analytics_relation_meta_get_direct_related (rmeta, car.id,
            GST_ANALYTICS_REL_TYPE_ANY, gst_analytics_cls_mtd_get_mtd_type (), NULL,
            (GstAnalyticsMtd *) & cls));
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
analytics_suite (void)
{
  Suite *s = suite_create ("convnextclassify-analytics");
  TCase *tc = tcase_create ("analytics");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_cls_mtd_matches_meta);
  tcase_add_test (tc, test_adds_to_upstream_relation_meta);
  tcase_add_test (tc, test_nothing_above_threshold);
  tcase_add_test (tc, test_roi_list_od);
  return s;
}

GST_CHECK_MAIN (analytics);
