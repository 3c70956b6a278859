/* The writers of a convnextclassify result: custom meta, ROI param, GstAnalytics, bus message. */
#include "gstconvnextresult.h"

#if HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>
#endif

GstConvNextResult *
gst_convnext_result_new (guint max_classes, const gchar *model_name)
{
  GstConvNextResult *result = g_new0 (GstConvNextResult, 1);

  result->max_classes = max_classes;
  result->classes = g_new0 (GstConvNextClass, MAX (max_classes, 1));
  result->model_name = model_name;
  result->frame_pts = result->frame_duration = GST_CLOCK_TIME_NONE;
  return result;
}

void
gst_convnext_result_free (GstConvNextResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->roi_param, gst_structure_free);
  g_free (result->classes);
  g_free (result);
}

/* Adds the top-k to @s as three GstValueArrays: labels (string), ids (int), scores (double). */
static void
add_top_k_arrays (GstStructure *s, const GstConvNextClass *classes, guint n,
    const gchar *labels_field, const gchar *ids_field, const gchar *scores_field)
{
  GValue labels = G_VALUE_INIT, ids = G_VALUE_INIT, scores = G_VALUE_INIT;
  GValue v = G_VALUE_INIT;

  gst_value_array_init (&labels, n);
  gst_value_array_init (&ids, n);
  gst_value_array_init (&scores, n);
  for (guint i = 0; i < n; i++) {
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, classes[i].label);
    gst_value_array_append_and_take_value (&labels, &v);
    g_value_init (&v, G_TYPE_INT);
    g_value_set_int (&v, classes[i].class_id);
    gst_value_array_append_and_take_value (&ids, &v);
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, classes[i].score);
    gst_value_array_append_and_take_value (&scores, &v);
  }
  gst_structure_take_value (s, labels_field, &labels);
  gst_structure_take_value (s, ids_field, &ids);
  gst_structure_take_value (s, scores_field, &scores);
}

/* The DL Streamer-style ROI param: top-1 in label/label_id/confidence, plus the whole
 * top-k in labels/label_ids/confidences for readers that want more than the best class. */
static GstStructure *
make_roi_param (const GstConvNextClass *classes, guint n, const gchar *model_name)
{
  GstStructure *s = gst_structure_new (GST_CONVNEXT_ROI_PARAM,
      "label", G_TYPE_STRING, classes[0].label,
      "label_id", G_TYPE_INT, (gint) classes[0].class_id,
      "confidence", G_TYPE_DOUBLE, (gdouble) classes[0].score,
      "model_name", G_TYPE_STRING, model_name, NULL);

  add_top_k_arrays (s, classes, n, "labels", "label_ids", "confidences");
  return s;
}

void
gst_convnext_result_set (GstConvNextResult *result, const ConvNextClass *top, guint n_top,
    gdouble threshold, guint64 frame_number, GstClockTime frame_pts,
    GstClockTime frame_duration, GstClockTime inference_time)
{
  guint n = MIN (n_top, result->max_classes);

  while (n > 0 && top[n - 1].score < threshold)  /* scores are descending */
    n--;
  for (guint i = 0; i < n; i++) {
    result->classes[i].class_id = top[i].id;
    result->classes[i].score = top[i].score;
    result->classes[i].label = (gchar *) top[i].label;
  }
  result->n_classes = n;
  result->frame_number = frame_number;
  result->frame_pts = frame_pts;
  result->frame_duration = frame_duration;
  result->inference_time = inference_time;
  g_clear_pointer (&result->roi_param, gst_structure_free);
  if (n > 0)
    result->roi_param = make_roi_param (result->classes, n, result->model_name);
}

void
gst_convnext_result_clear (GstConvNextResult *result)
{
  result->n_classes = 0;
  g_clear_pointer (&result->roi_param, gst_structure_free);
}

#if HAVE_GST_ANALYTICS
/* A whole top-k (@n @classes) as one GstAnalyticsClsMtd in @rmeta, as upstream's classifiers
 * and DL Streamer write it: levels are the scores (descending), quarks
 * g_quark_from_string (label). */
static gboolean
add_cls_mtd (GstAnalyticsRelationMeta *rmeta, const GstConvNextClass *classes, guint n,
    GstAnalyticsClsMtd *mtd)
{
  gfloat *levels = g_newa (gfloat, n);
  GQuark *quarks = g_newa (GQuark, n);

  for (guint i = 0; i < n; i++) {
    levels[i] = classes[i].score;
    quarks[i] = g_quark_from_string (classes[i].label);
  }
  return gst_analytics_relation_meta_add_cls_mtd (rmeta, n, levels, quarks, mtd);
}

/* The frame's top-k as a ClsMtd.  Whoever added the buffer's relation meta before us (a
 * detector) keeps it; we add to it. */
static void
attach_analytics (const GstConvNextResult *result, GstBuffer *buf)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsClsMtd mtd;

  if (rmeta == NULL)
    rmeta = gst_buffer_add_analytics_relation_meta (buf);
  if (rmeta == NULL || !add_cls_mtd (rmeta, result->classes, result->n_classes, &mtd))
    GST_WARNING ("could not add a GstAnalyticsClsMtd to %" GST_PTR_FORMAT, buf);
}
#endif

/* The convnext meta of @buf, with its age: how much older the frame the result was computed on
 * (@frame_pts) is than @buf (GST_CLOCK_TIME_NONE when either has no pts). */
static GstConvNextClassificationMeta *
add_meta (GstBuffer *buf, const GstConvNextClass *classes, guint n_classes,
    const gchar *model_name, guint64 frame_number, GstClockTime frame_pts,
    GstClockTime inference_time)
{
  GstClockTime pts = GST_BUFFER_PTS (buf);
  GstConvNextClassificationMeta *meta;

  meta = gst_buffer_add_convnext_classification_meta (buf, classes, n_classes, model_name,
      frame_number, frame_pts, inference_time);
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (frame_pts) && pts >= frame_pts)
    meta->age = pts - frame_pts;
  return meta;
}

void
gst_convnext_result_attach (const GstConvNextResult *result, GstBuffer *buf, guint width,
    guint height)
{
  GstConvNextClassificationMeta *meta;
  GstVideoRegionOfInterestMeta *roi;

  meta = add_meta (buf, result->classes, result->n_classes, result->model_name,
      result->frame_number, result->frame_pts, result->inference_time);
  meta->width = width;
  meta->height = height;
  roi = gst_buffer_add_video_region_of_interest_meta (buf, GST_CONVNEXT_ROI_TYPE, 0, 0, width,
      height);
  if (result->roi_param != NULL)
    gst_video_region_of_interest_meta_add_param (roi, gst_structure_copy (result->roi_param));
#if HAVE_GST_ANALYTICS
  if (result->n_classes > 0)
    attach_analytics (result, buf);
#endif
}

GstMessage *
gst_convnext_result_new_message (const GstConvNextResult *result, GstObject *src,
    const GstSegment *segment)
{
  GstClockTime pts = result->frame_pts;
  GstClockTime running_time = GST_CLOCK_TIME_NONE, stream_time = GST_CLOCK_TIME_NONE;
  GstStructure *s;

  if (segment->format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID (pts)) {
    running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME, pts);
    stream_time = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, pts);
  }
  s = gst_structure_new ("convnext-classification",
      "timestamp", G_TYPE_UINT64, pts,
      "stream-time", G_TYPE_UINT64, stream_time,
      "running-time", G_TYPE_UINT64, running_time,
      "duration", G_TYPE_UINT64, result->frame_duration,
      "frame-number", G_TYPE_UINT64, result->frame_number,
      "inference-time", G_TYPE_UINT64, result->inference_time,
      "model-name", G_TYPE_STRING, result->model_name, NULL);
  add_top_k_arrays (s, result->classes, result->n_classes, "labels", "class-ids", "scores");
  return gst_message_new_element (src, s);
}

void
gst_convnext_object_set_classes (GstConvNextObject *object, guint max_classes,
    const ConvNextClass *top, guint n_top, gdouble threshold)
{
  guint n = MIN (n_top, max_classes);

  while (n > 0 && top[n - 1].score < threshold)  /* scores are descending */
    n--;
  for (guint i = 0; i < n; i++) {
    object->classes[i].class_id = top[i].id;
    object->classes[i].score = top[i].score;
    object->classes[i].label = (gchar *) top[i].label;
  }
  object->n_classes = n;
}

#if HAVE_GST_ANALYTICS
static void
attach_object_analytics (const GstConvNextObject *o, GstBuffer *buf)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsClsMtd mtd;

  /* An ODMtd lives in the relation meta, which therefore exists. */
  if (rmeta == NULL || !add_cls_mtd (rmeta, o->classes, o->n_classes, &mtd)
      || !gst_analytics_relation_meta_set_relation (rmeta,
          GST_ANALYTICS_REL_TYPE_CONTAIN | GST_ANALYTICS_REL_TYPE_RELATE_TO, o->od_id, mtd.id)
      || !gst_analytics_relation_meta_set_relation (rmeta, GST_ANALYTICS_REL_TYPE_IS_PART_OF,
          mtd.id, o->od_id))
    GST_WARNING ("could not relate a GstAnalyticsClsMtd to ODMtd %d of %" GST_PTR_FORMAT,
        o->od_id, buf);
}
#endif

void
gst_convnext_result_attach_objects (GstBuffer *buf, guint width, guint height,
    const GstConvNextObject *objects, GstVideoRegionOfInterestMeta *const *rois,
    guint n_objects, const gchar *model_name, guint64 frame_number, GstClockTime frame_pts,
    GstClockTime inference_time)
{
  GstConvNextClassificationMeta *meta;

  meta = add_meta (buf, NULL, 0, model_name, frame_number, frame_pts, inference_time);
  meta->width = width;
  meta->height = height;
  gst_convnext_classification_meta_add_objects (meta, objects, n_objects);
  for (guint i = 0; i < n_objects; i++) {
    const GstConvNextObject *o = &objects[i];
    GstVideoRegionOfInterestMeta *roi = rois[i];

    if (o->n_classes == 0)
      continue;
    if (roi != NULL)
      gst_video_region_of_interest_meta_add_param (roi, make_roi_param (o->classes,
              o->n_classes, model_name));
#if HAVE_GST_ANALYTICS
    if (o->od_id >= 0)
      attach_object_analytics (o, buf);
#endif
  }
}

GstMessage *
gst_convnext_result_new_objects_message (const GstConvNextObject *objects, guint n_objects,
    const gchar *model_name, GstObject *src, const GstSegment *segment, guint64 frame_number,
    GstClockTime pts, GstClockTime duration, GstClockTime inference_time)
{
  GstConvNextResult frame = { 0 };
  GValue list = G_VALUE_INIT, v = G_VALUE_INIT;
  GstMessage *msg;

  frame.model_name = model_name;
  frame.frame_number = frame_number;
  frame.frame_pts = pts;
  frame.frame_duration = duration;
  frame.inference_time = inference_time;
  msg = gst_convnext_result_new_message (&frame, src, segment);

  gst_value_array_init (&list, n_objects);
  for (guint i = 0; i < n_objects; i++) {
    const GstConvNextObject *o = &objects[i];
    GstStructure *s = gst_structure_new ("object",
        "roi-id", G_TYPE_INT, o->roi_id,
        "od-id", G_TYPE_INT, o->od_id,
        "x", G_TYPE_INT, o->x, "y", G_TYPE_INT, o->y,
        "w", G_TYPE_INT, (gint) o->w, "h", G_TYPE_INT, (gint) o->h,
        "frame-number", G_TYPE_UINT64, o->frame_number, NULL);

    if (o->has_tracking_id)
      gst_structure_set (s, "tracking-id", G_TYPE_UINT64, o->tracking_id, NULL);
    add_top_k_arrays (s, o->classes, o->n_classes, "labels", "class-ids", "scores");
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, s);
    gst_value_array_append_and_take_value (&list, &v);
  }
  gst_structure_take_value (gst_message_writable_structure (msg), "objects", &list);
  return msg;
}
