/* gst-check tests of convnextclassify inference-region=roi-list on synthetic ROI metas.
 *
 * The reference for a region is the library run on that region's pixels copied into an
 * image of their own (the crop "saved as an image"), classified whole: the element must give
 * the same scores as ConvNextImageProcessor on the crop.  models/tiny's whole chain is checked
 * against PyTorch by test_convnextclassify (expected_pattern.h).
 */
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

#include <convnext.h>

#include "gstconvnextmeta.h"

#define N_LABELS 10
#define W 160
#define H 120
/* Same pixels through the same library: only oneDNN's summation order (batch) may differ. */
#define SAME_TOLERANCE 1e-5

/* A frame of the test pattern (RGB), shifted by @phase so that frames differ. */
static GstBuffer *
make_frame (guint phase)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, W * H * 3, NULL);
  GstMapInfo map;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 *p = map.data + (y * W + x) * 3;
      p[0] = (x * 4 + y + phase * 17) % 256;
      p[1] = (y * 5 + (x * x) / 7) % 256;
      p[2] = (255 + 2 * y - (3 * x) % 256 + phase * 5) % 256;
    }
  gst_buffer_unmap (buf, &map);
  return buf;
}

static GstVideoRegionOfInterestMeta *
add_roi (GstBuffer *buf, const gchar *type, gint id, gint x, gint y, gint w, gint h)
{
  GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta (buf, type,
      x, y, w, h);
  roi->id = id;
  return roi;
}

/* The library on the crop @x,@y @w×@h of @buf saved as a w×h RGB image. */
static guint
reference (GstBuffer *buf, guint x, guint y, guint w, guint h, ConvNextClass *top)
{
  static ConvNextModel *model;
  static ConvNextPreprocessor *pre;
  g_autoptr (GError) error = NULL;
  ConvNextImage image = { 0 };
  g_autofree guint8 *crop = g_malloc (w * h * 3);
  g_autofree float *pv = NULL;
  float logits[N_LABELS];
  GstMapInfo map;
  guint pw, ph;

  if (model == NULL) {
    ConvNextParams params;

    convnext_params_init (&params);
    params.n_threads = 1;
    model = convnext_model_new (TINY_MODEL_DIR, &params, &error);
    fail_unless (model != NULL, "%s", error ? error->message : "");
    pre = convnext_preprocessor_new (TINY_MODEL_DIR, &error);
    fail_unless (pre != NULL, "%s", error ? error->message : "");
  }
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (guint r = 0; r < h; r++)
    memcpy (crop + r * w * 3, map.data + ((y + r) * W + x) * 3, w * 3);
  gst_buffer_unmap (buf, &map);
  image.format = CONVNEXT_PIXEL_FORMAT_RGB;
  image.width = w;
  image.height = h;
  image.data[0] = crop;
  image.stride[0] = w * 3;
  convnext_preprocessor_get_output_size (pre, w, h, &pw, &ph);
  pv = g_new (float, 3 * pw * ph);
  fail_unless (convnext_preprocessor_process (pre, &image, NULL, pv, &error), "%s",
      error ? error->message : "");
  fail_unless (convnext_model_forward (model, pv, 1, ph, pw, logits, NULL, &error), "%s",
      error ? error->message : "");
  return convnext_model_top_k (model, logits, N_LABELS, top);
}

static GstHarness *
harness_new (const gchar *first_property, ...)
{
  GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (element != NULL, "convnextclassify not found: is GST_PLUGIN_PATH set?");
  g_object_set (element, "model", TINY_MODEL_DIR, "threads", 1, "top-k", N_LABELS,
      "inference-region", 1, NULL);
  va_start (args, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (element), first_property, args);
  va_end (args);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=160,height=120,"
      "framerate=30/1");
  return h;
}

/* The object of @meta whose box is @x,@y,@w,@h, or NULL. */
static const GstConvNextObject *
find_object (const GstConvNextClassificationMeta *meta, gint x, gint y, guint w, guint h)
{
  for (guint i = 0; i < meta->n_objects; i++) {
    const GstConvNextObject *o = &meta->objects[i];
    if (o->x == x && o->y == y && o->w == w && o->h == h)
      return o;
  }
  return NULL;
}

/* @o's classes equal the reference on @src's crop @x,@y @w×@h. */
static void
check_object_box (GstBuffer *src, const GstConvNextObject *o, guint x, guint y, guint w,
    guint h)
{
  ConvNextClass top[N_LABELS];
  guint n = reference (src, x, y, w, h, top);

  fail_unless_equals_int (o->n_classes, n);
  for (guint i = 0; i < n; i++) {
    fail_unless_equals_int (o->classes[i].class_id, top[i].id);
    fail_unless (fabs (o->classes[i].score - top[i].score) <= SAME_TOLERANCE,
        "box %d,%d %ux%u class %u: %.7f, reference %.7f", o->x, o->y, o->w, o->h, i,
        o->classes[i].score, top[i].score);
  }
}

/* @o's classes equal the reference on @src's crop of @o's box. */
static void
check_object (GstBuffer *src, const GstConvNextObject *o)
{
  check_object_box (src, o, o->x, o->y, o->w, o->h);
}

/* @roi carries a classification param equal to @o's best class. */
static void
check_param (GstVideoRegionOfInterestMeta *roi, const GstConvNextObject *o)
{
  GstStructure *param = gst_video_region_of_interest_meta_get_param (roi, "classification");
  gdouble confidence;
  gint label_id;

  fail_unless (param != NULL, "ROI %d has no classification param", roi->id);
  fail_unless (gst_structure_get_int (param, "label_id", &label_id));
  fail_unless_equals_int (label_id, o->classes[0].class_id);
  fail_unless (gst_structure_get_double (param, "confidence", &confidence));
  fail_unless_equals_float (confidence, o->classes[0].score);
  fail_unless_equals_string (gst_structure_get_string (param, "label"), o->classes[0].label);
  fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value (param,
              "confidences")), o->n_classes);
}

/* Several regions: classes filtered, too small / empty / outside skipped, a region across
 * the border clipped; every selected one equals the reference on its crop, at every
 * batch-size (so a batch equals one-at-a-time). */
GST_START_TEST (test_several_regions)
{
  static const guint batch_sizes[] = { 1, 2, 8 };

  for (guint b = 0; b < G_N_ELEMENTS (batch_sizes); b++) {
    GstHarness *h = harness_new ("object-class", " face ,person", "object-min-width", 8,
        "object-min-height", 6, "batch-size", batch_sizes[b], NULL);
    GstBuffer *in = make_frame (0), *out;
    GstConvNextClassificationMeta *meta;
    const GstConvNextObject *o;

    add_roi (in, "car", 1, 10, 10, 40, 30);
    add_roi (in, "face", 2, 50, 20, 60, 70);
    add_roi (in, "person", 3, 5, 40, 33, 57);
    add_roi (in, "face", 4, 0, 0, 7, 40);       /* too narrow */
    add_roi (in, "face", 5, 130, 100, 60, 60);  /* clipped to 30 × 20 */
    add_roi (in, "face", 6, 200, 10, 20, 20);   /* outside */
    add_roi (in, "face", 7, 20, 20, 0, 10);     /* empty */
    add_roi (in, "face", 8, 20, 115, 30, 20);   /* clipped to 30 × 5: too low */
    out = gst_harness_push_and_pull (h, in);

    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL);
    fail_unless_equals_int (meta->n_classes, 0);
    fail_unless_equals_int (meta->n_objects, 3);
    fail_unless_equals_int (meta->width, W);      /* the frame the boxes are in pixels of */
    fail_unless_equals_int (meta->height, H);
    fail_unless ((o = find_object (meta, 50, 20, 60, 70)) != NULL);
    fail_unless_equals_int (o->roi_id, 2);
    check_object (out, o);
    check_param (gst_buffer_get_video_region_of_interest_meta_id (out, 2), o);
    fail_unless ((o = find_object (meta, 5, 40, 33, 57)) != NULL);
    fail_unless_equals_int (o->roi_id, 3);
    check_object (out, o);
    check_param (gst_buffer_get_video_region_of_interest_meta_id (out, 3), o);
    fail_unless ((o = find_object (meta, 130, 100, 30, 20)) != NULL);
    fail_unless_equals_int (o->roi_id, 5);
    check_object (out, o);
    check_param (gst_buffer_get_video_region_of_interest_meta_id (out, 5), o);
    fail_unless_equals_int (o->frame_number, 0);
    /* The skipped and filtered ROIs got nothing. */
    for (gint id = 1; id <= 8; id++) {
      GstVideoRegionOfInterestMeta *roi = gst_buffer_get_video_region_of_interest_meta_id (out,
          id);
      fail_unless (roi != NULL);
      if (id != 2 && id != 3 && id != 5)
        fail_unless (gst_video_region_of_interest_meta_get_param (roi, "classification")
            == NULL, "ROI %d was classified", id);
    }
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}
GST_END_TEST;

/* A frame without regions carries an empty meta, dated that frame; full-frame mode ignores
 * ROIs. */
GST_START_TEST (test_no_regions_and_full_frame)
{
  GstHarness *h = harness_new (NULL);
  GstBuffer *out = gst_harness_push_and_pull (h, make_frame (0));
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (out);
  GstBuffer *in;

  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_objects, 0);
  fail_unless_equals_int (meta->n_classes, 0);
  gst_buffer_unref (out);
  in = make_frame (1);
  add_roi (in, "face", 1, 10, 10, 40, 40);
  gst_buffer_unref (gst_harness_push_and_pull (h, in));
  out = gst_harness_push_and_pull (h, make_frame (2));
  meta = gst_buffer_get_convnext_classification_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_objects, 0);
  fail_unless_equals_uint64 (meta->frame_number, 2);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  h = harness_new ("inference-region", 0, NULL);
  in = make_frame (0);
  add_roi (in, "face", 1, 10, 10, 40, 40);
  out = gst_harness_push_and_pull (h, in);
  meta = gst_buffer_get_convnext_classification_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_objects, 0);
  fail_unless_equals_int (meta->n_classes, N_LABELS);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* reclassify-interval 3 by tracking id: an object is classified on its first frame and every
 * third after, and carries that result in between; two objects keep their own schedules; an
 * object whose box moves keeps its key.  interval 0: once. */
GST_START_TEST (test_reclassify_interval)
{
  GstHarness *h = harness_new ("reclassify-interval", 3, NULL);
  guint64 last_a = 0, last_b = 0;

  for (guint f = 0; f < 8; f++) {
    GstBuffer *in = make_frame (f), *out;
    GstConvNextClassificationMeta *meta;
    const GstConvNextObject *a, *b = NULL;

    add_roi (in, "face", 11, 10 + f, 10, 40, 40);       /* A moves */
    if (f >= 2)
      add_roi (in, "face", 12, 80, 30, 50, 60);         /* B appears on frame 2 */
    out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL);
    fail_unless_equals_int (meta->n_objects, f >= 2 ? 2 : 1);
    fail_unless ((a = find_object (meta, 10 + f, 10, 40, 40)) != NULL);
    fail_unless_equals_int (a->has_tracking_id, TRUE);
    fail_unless_equals_int (a->tracking_id, 11);
    fail_unless_equals_int (a->frame_number, f - f % 3);
    if (f % 3 == 0) {
      /* Classified on this frame, on this frame's box. */
      check_object (in, a);
      last_a = f;
    } else {
      fail_unless_equals_int (a->frame_number, last_a);
    }
    if (f >= 2) {
      fail_unless ((b = find_object (meta, 80, 30, 50, 60)) != NULL);
      fail_unless_equals_int (b->frame_number, f - (f - 2) % 3);
      if ((f - 2) % 3 == 0) {
        check_object (in, b);
        last_b = f;
      }
      fail_unless_equals_int (b->frame_number, last_b);
    }
    gst_buffer_unref (out);
    gst_buffer_unref (in);
  }
  gst_harness_teardown (h);

  /* 0: once. */
  h = harness_new ("reclassify-interval", 0, NULL);
  for (guint f = 0; f < 5; f++) {
    GstBuffer *in = make_frame (f), *out;
    GstConvNextClassificationMeta *meta;

    add_roi (in, "face", 7, 10, 10, 40, 40);
    out = gst_harness_push_and_pull (h, in);
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless_equals_int (meta->n_objects, 1);
    fail_unless_equals_int (meta->objects[0].frame_number, 0);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Two regions sharing an id on one frame are no tracked object: both are classified every
 * frame, whatever the interval. */
GST_START_TEST (test_shared_id_not_cached)
{
  GstHarness *h = harness_new ("reclassify-interval", 0, NULL);

  for (guint f = 0; f < 3; f++) {
    GstBuffer *in = make_frame (f), *out;
    GstConvNextClassificationMeta *meta;

    add_roi (in, "face", 0, 10, 10, 40, 40);
    add_roi (in, "face", 0, 70, 20, 50, 50);
    out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless_equals_int (meta->n_objects, 2);
    for (guint i = 0; i < 2; i++) {
      fail_unless_equals_int (meta->objects[i].frame_number, f);
      fail_unless (!meta->objects[i].has_tracking_id);
      check_object (in, &meta->objects[i]);
    }
    gst_buffer_unref (out);
    gst_buffer_unref (in);
  }
  gst_harness_teardown (h);
}
GST_END_TEST;

/* After tee and queue, each branch's buffer carries the objects, and each ROI its own
 * classification (matched by box: the copies' metas are new). */
GST_START_TEST (test_results_after_tee_queue)
{
  GstElement *pipeline = gst_parse_launch ("appsrc name=src format=time "
      "caps=video/x-raw,format=RGB,width=160,height=120,framerate=30/1 ! "
      "convnextclassify name=c threads=1 inference-region=roi-list top-k=10 ! tee name=t "
      "t. ! queue ! appsink name=a sync=false t. ! queue ! appsink name=b sync=false", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstBuffer *in = make_frame (3);
  const gchar *sinks[] = { "a", "b" };

  g_object_set (classify, "model", TINY_MODEL_DIR, NULL);
  add_roi (in, "face", 1, 10, 10, 40, 40);
  add_roi (in, "face", 2, 70, 20, 50, 90);
  GST_BUFFER_PTS (in) = 0;
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_ref (in)),
      GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  for (guint s = 0; s < 2; s++) {
    GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), sinks[s]);
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
    GstBuffer *out;
    GstConvNextClassificationMeta *meta;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    guint n_rois = 0;

    fail_unless (sample != NULL, "branch %s got nothing", sinks[s]);
    out = gst_sample_get_buffer (sample);
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL);
    fail_unless_equals_int (meta->n_objects, 2);
    while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (out,
                &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
      const GstConvNextObject *o = find_object (meta, roi->x, roi->y, roi->w, roi->h);

      fail_unless (o != NULL);
      fail_unless_equals_int (o->roi_id, roi->id);
      check_object (in, o);
      check_param (roi, o);
      n_rois++;
    }
    fail_unless_equals_int (n_rois, 2);
    gst_sample_unref (sample);
    gst_object_unref (sink);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_buffer_unref (in);
  gst_object_unref (src);
  gst_object_unref (classify);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* An objects message's object @i as a GstConvNextObject (classes into @classes). */
static GstConvNextObject
message_object (const GstStructure *s, guint i, GstConvNextClass *classes)
{
  const GstStructure *obj = gst_value_get_structure (gst_value_array_get_value (
          gst_structure_get_value (s, "objects"), i));
  const GValue *ids = gst_structure_get_value (obj, "class-ids");
  const GValue *scores = gst_structure_get_value (obj, "scores");
  GstConvNextObject o = { 0 };
  gint w, h;

  fail_unless (gst_structure_get (obj, "roi-id", G_TYPE_INT, &o.roi_id, "x", G_TYPE_INT, &o.x,
          "y", G_TYPE_INT, &o.y, "w", G_TYPE_INT, &w, "h", G_TYPE_INT, &h, "frame-number",
          G_TYPE_UINT64, &o.frame_number, "tracking-id", G_TYPE_UINT64, &o.tracking_id, NULL));
  o.w = w;
  o.h = h;
  o.n_classes = gst_value_array_get_size (ids);
  fail_unless (o.n_classes <= N_LABELS);
  for (guint k = 0; k < o.n_classes; k++) {
    classes[k].class_id = g_value_get_int (gst_value_array_get_value (ids, k));
    classes[k].score = g_value_get_double (gst_value_array_get_value (scores, k));
  }
  o.classes = classes;
  return o;
}

/* Async: results come back on later frames, matched by tracking id to the objects they were
 * computed for (equal to the reference on the frame and box they came from).  With
 * post-messages, each finished request is posted as the objects message of its source frame:
 * its frame-number and timestamp, the boxes on that frame, and the reference's scores. */
GST_START_TEST (test_async_regions)
{
  GstHarness *h = harness_new ("async-inference", TRUE, "post-messages", TRUE, NULL);
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  gboolean got_both = FALSE;
  guint n_messages = 0;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (h->element, bus);
  for (guint f = 0; !got_both && g_get_monotonic_time () < deadline; f++) {
    GstBuffer *in = make_frame (f), *out;
    GstConvNextClassificationMeta *meta;

    GST_BUFFER_PTS (in) = gst_util_uint64_scale (f, GST_SECOND, 30);
    add_roi (in, "face", 21, 10 + f % 30, 10, 40, 40);
    add_roi (in, "face", 22, 80, 30 + f % 20, 50, 60);
    g_ptr_array_add (frames, gst_buffer_ref (in));
    out = gst_harness_push_and_pull (h, in);
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL);
    for (guint i = 0; i < meta->n_objects; i++) {
      const GstConvNextObject *o = &meta->objects[i];
      GstBuffer *src = g_ptr_array_index (frames, o->frame_number);
      guint k = (guint) o->frame_number;

      fail_unless (o->frame_number <= f);
      fail_unless (o->tracking_id == 21 || o->tracking_id == 22);
      /* The box is this frame's; the classes are those of that object's box on the frame
       * they were computed on. */
      if (o->tracking_id == 21) {
        fail_unless_equals_int (o->x, 10 + f % 30);
        check_object_box (src, o, 10 + k % 30, 10, 40, 40);
      } else {
        fail_unless_equals_int (o->y, 30 + f % 20);
        check_object_box (src, o, 80, 30 + k % 20, 50, 60);
      }
    }
    got_both = meta->n_objects == 2;
    gst_buffer_unref (out);
  }
  fail_unless (got_both, "no async result within 20 s");

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    guint64 frame_number, pts;

    fail_unless (gst_structure_has_name (s, "convnext-classification"));
    fail_unless (gst_structure_get (s, "frame-number", G_TYPE_UINT64, &frame_number,
            "timestamp", G_TYPE_UINT64, &pts, NULL));
    fail_unless (frame_number < frames->len);
    fail_unless_equals_uint64 (pts,
        GST_BUFFER_PTS (g_ptr_array_index (frames, frame_number)));
    for (guint i = 0; i < gst_value_array_get_size (gst_structure_get_value (s, "objects"));
        i++) {
      GstConvNextClass classes[N_LABELS];
      GstConvNextObject o = message_object (s, i, classes);
      GstBuffer *src = g_ptr_array_index (frames, frame_number);
      guint k = (guint) frame_number;

      fail_unless_equals_uint64 (o.frame_number, frame_number);
      if (o.tracking_id == 21)
        check_object_box (src, &o, 10 + k % 30, 10, 40, 40);
      else
        check_object_box (src, &o, 80, 30 + k % 20, 50, 60);
      fail_unless_equals_int (o.x, o.tracking_id == 21 ? (gint) (10 + k % 30) : 80);
    }
    n_messages++;
    gst_message_unref (msg);
  }
  fail_unless (n_messages > 0, "async-inference posted no objects message");
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* The properties: defaults, ranges, and out-of-range values refused. */
GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("convnextclassify", NULL);
  gchar *object_class;
  guint min_w, min_h, interval, batch;
  gint region;

  g_object_get (e, "inference-region", &region, "object-class", &object_class,
      "object-min-width", &min_w, "object-min-height", &min_h, "reclassify-interval",
      &interval, "batch-size", &batch, NULL);
  fail_unless_equals_int (region, 0);
  fail_unless (object_class == NULL);
  fail_unless_equals_int (min_w, 0);
  fail_unless_equals_int (min_h, 0);
  fail_unless_equals_int (interval, 1);
  fail_unless_equals_int (batch, 8);

  gst_util_set_object_arg (G_OBJECT (e), "inference-region", "roi-list");
  g_object_get (e, "inference-region", &region, NULL);
  fail_unless_equals_int (region, 1);
  /* Bad values never reach the element: GObject refuses them (with a g_warning, whose form
   * differs between GLib releases, so the pspecs are asked instead). */
  {
    GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "batch-size");
    GEnumClass *regions = g_type_class_ref (G_PARAM_SPEC_VALUE_TYPE (
            g_object_class_find_property (G_OBJECT_GET_CLASS (e), "inference-region")));
    GValue v = G_VALUE_INIT;

    fail_unless (g_enum_get_value_by_nick (regions, "bogus") == NULL);
    fail_unless (g_enum_get_value_by_nick (regions, "full-frame") != NULL);
    g_type_class_unref (regions);
    g_value_init (&v, G_TYPE_UINT);
    g_value_set_uint (&v, 0);
    fail_unless (g_param_value_validate (pspec, &v));   /* TRUE: it had to be changed */
    g_value_set_uint (&v, 100000);
    fail_unless (g_param_value_validate (pspec, &v));
    g_value_set_uint (&v, 256);
    fail_if (g_param_value_validate (pspec, &v));
  }
  g_object_get (e, "batch-size", &batch, NULL);
  fail_unless_equals_int (batch, 8);
  gst_object_unref (e);
}
GST_END_TEST;

static Suite *
roi_suite (void)
{
  Suite *s = suite_create ("convnextclassify-roi");
  TCase *tc = tcase_create ("roi");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_several_regions);
  tcase_add_test (tc, test_no_regions_and_full_frame);
  tcase_add_test (tc, test_reclassify_interval);
  tcase_add_test (tc, test_shared_id_not_cached);
  tcase_add_test (tc, test_results_after_tee_queue);
  tcase_add_test (tc, test_async_regions);
  tcase_add_test (tc, test_properties);
  return s;
}

GST_CHECK_MAIN (roi);
