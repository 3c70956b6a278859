/* gstconvnextoverlayresults.c: what convnextoverlay draws for one buffer (see the header). */
#include "gstconvnextoverlayresults.h"

#include <gst/video/video.h>

#include "gstconvnextmeta.h"

#if HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>
#endif

static gint
entry_cmp_desc (gconstpointer a, gconstpointer b)
{
  gdouble sa = ((const OverlayEntry *) a)->score, sb = ((const OverlayEntry *) b)->score;
  return (sa < sb) - (sa > sb);
}

/* A "classification" param: the whole top-k when it has the labels/confidences arrays, else
 * its best class (label/confidence, as any DL Streamer classifier writes it). */
static void
append_roi_param (GArray *entries, const GstStructure *s)
{
  const GValue *labels = gst_structure_get_value (s, "labels");
  const GValue *scores = gst_structure_get_value (s, "confidences");
  OverlayEntry e = { NULL, 0.0 };

  if (labels && scores && GST_VALUE_HOLDS_ARRAY (labels) && GST_VALUE_HOLDS_ARRAY (scores)) {
    guint n = MIN (gst_value_array_get_size (labels), gst_value_array_get_size (scores));

    for (guint i = 0; i < n; i++) {
      const GValue *l = gst_value_array_get_value (labels, i);
      const GValue *c = gst_value_array_get_value (scores, i);

      e.label = G_VALUE_HOLDS_STRING (l) ? g_value_get_string (l) : NULL;
      e.score = G_VALUE_HOLDS_DOUBLE (c) ? g_value_get_double (c) : 0.0;
      g_array_append_val (entries, e);
    }
    return;
  }
  e.label = gst_structure_get_string (s, "label");
  gst_structure_get_double (s, "confidence", &e.score);
  g_array_append_val (entries, e);
}

#if HAVE_GST_ANALYTICS
/* Whether an object detection of @rmeta relates to @id, either way. */
static gboolean
classifies_an_object (GstAnalyticsRelationMeta *rmeta, guint id)
{
  GstAnalyticsMtd od;
  gpointer state = NULL;

  while (gst_analytics_relation_meta_iterate (rmeta, &state, gst_analytics_od_mtd_get_mtd_type (),
          &od)) {
    GstAnalyticsRelTypes to = gst_analytics_relation_meta_get_relation (rmeta, od.id, id);
    GstAnalyticsRelTypes from = gst_analytics_relation_meta_get_relation (rmeta, id, od.id);

    if (to != GST_ANALYTICS_REL_TYPE_NONE || from != GST_ANALYTICS_REL_TYPE_NONE)
      return TRUE;
  }
  return FALSE;
}

/* The frame's GstAnalyticsClsMtd as entries (labels are quarks: static strings), or NULL. */
static GArray *
analytics_entries (GstBuffer *buf)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsClsMtd mtd;
  gpointer state = NULL;

  while (rmeta && gst_analytics_relation_meta_iterate (rmeta, &state,
          gst_analytics_cls_mtd_get_mtd_type (), &mtd)) {
    gsize n = gst_analytics_cls_mtd_get_length (&mtd);
    GArray *entries;

    if (classifies_an_object (rmeta, mtd.id))
      continue;
    entries = g_array_sized_new (FALSE, FALSE, sizeof (OverlayEntry), n);
    for (gsize i = 0; i < n; i++) {
      OverlayEntry e = { g_quark_to_string (gst_analytics_cls_mtd_get_quark (&mtd, i)),
        gst_analytics_cls_mtd_get_level (&mtd, i) };
      g_array_append_val (entries, e);
    }
    g_array_sort (entries, entry_cmp_desc);
    return entries;
  }
  return NULL;
}
#endif

/* The classification of @buf, best first: the convnext meta, else the frame's GstAnalyticsClsMtd,
 * else the convnext ROI's "classification" param. Returns NULL when the buffer carries none. */
GArray *
gst_convnext_overlay_frame_classes (GstBuffer *buf)
{
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
  GArray *entries = NULL;
  GstMeta *m;
  gpointer state = NULL;

  if (meta) {
    entries = g_array_sized_new (FALSE, FALSE, sizeof (OverlayEntry), meta->n_classes);
    for (guint i = 0; i < meta->n_classes; i++) {
      OverlayEntry e = { meta->classes[i].label, meta->classes[i].score };
      g_array_append_val (entries, e);
    }
    return entries;
  }
#if HAVE_GST_ANALYTICS
  if ((entries = analytics_entries (buf)) != NULL)
    return entries;
#endif

  while ((m = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;

    if (roi->roi_type != g_quark_from_static_string (GST_CONVNEXT_ROI_TYPE))
      continue;
    if (!entries)
      entries = g_array_new (FALSE, FALSE, sizeof (OverlayEntry));
    for (GList *l = roi->params; l; l = l->next)
      if (gst_structure_has_name (l->data, GST_CONVNEXT_ROI_PARAM))
        append_roi_param (entries, l->data);
  }
  if (entries)
    g_array_sort (entries, entry_cmp_desc);
  return entries;
}

#if HAVE_GST_ANALYTICS
/* The best class of the first ClsMtd that @od relates to (OD -RELATE_TO-> Cls), into @best. */
static gboolean
od_best_class (GstAnalyticsRelationMeta *rmeta, const GstAnalyticsODMtd *od, OverlayEntry *best)
{
  GstAnalyticsClsMtd cls;
  gpointer state = NULL;

  if (!gst_analytics_relation_meta_get_direct_related (rmeta, od->id,
          GST_ANALYTICS_REL_TYPE_RELATE_TO, gst_analytics_cls_mtd_get_mtd_type (), &state, &cls))
    return FALSE;
  best->label = NULL;
  for (gsize i = 0; i < gst_analytics_cls_mtd_get_length (&cls); i++) {
    gfloat level = gst_analytics_cls_mtd_get_level (&cls, i);

    if (best->label == NULL || level > best->score) {
      best->label = g_quark_to_string (gst_analytics_cls_mtd_get_quark (&cls, i));
      best->score = level;
    }
  }
  return best->label != NULL;
}

/* Appends the classified GstAnalyticsODMtd of @buf whose box is not in @objects yet. */
static void
append_analytics_objects (GstBuffer *buf, GArray *objects)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsODMtd od;
  gpointer state = NULL;
  guint n_from_rois = objects->len;

  while (rmeta && gst_analytics_relation_meta_iterate (rmeta, &state,
          gst_analytics_od_mtd_get_mtd_type (), &od)) {
    OverlayObject obj;
    gfloat loc_conf;
    gboolean drawn = FALSE;

    if (!gst_analytics_od_mtd_get_location (&od, &obj.x, &obj.y, &obj.w, &obj.h, &loc_conf)
        || !od_best_class (rmeta, &od, &obj.best))
      continue;
    for (guint i = 0; i < n_from_rois && !drawn; i++) {
      const OverlayObject *r = &g_array_index (objects, OverlayObject, i);

      drawn = r->x == obj.x && r->y == obj.y && r->w == obj.w && r->h == obj.h;
    }
    if (!drawn)
      g_array_append_val (objects, obj);
  }
}
#endif

/* The objects of @buf: the convnext meta's, else every GstVideoRegionOfInterestMeta other than
 * the full-frame "convnext" one that carries a "classification" param (as convnextclassify, or
 * any DL Streamer classifier, writes it) and every classified GstAnalyticsODMtd. Objects without
 * a class are left out. NULL: none. */
GArray *
gst_convnext_overlay_objects (GstBuffer *buf, gint width, gint height)
{
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
  GArray *objects = g_array_new (FALSE, FALSE, sizeof (OverlayObject));
  GstMeta *m;
  gpointer state = NULL;

  if (meta) {
    for (guint i = 0; i < meta->n_objects; i++) {
      const GstConvNextObject *o = &meta->objects[i];
      OverlayObject obj = { o->x, o->y, o->w, o->h, { o->classes ? o->classes[0].label : NULL,
          o->classes ? o->classes[0].score : 0.0 } };

      if (meta->width > 0 && meta->height > 0 && width > 0 && height > 0
          && (meta->width != (guint) width || meta->height != (guint) height)) {
        /* Resized after the classifier (videoscale copies the meta as it is). */
        obj.x = (gint) gst_util_uint64_scale_int_round (MAX (o->x, 0), width, (gint) meta->width);
        obj.y = (gint) gst_util_uint64_scale_int_round (MAX (o->y, 0), height, (gint) meta->height);
        obj.w = (gint) gst_util_uint64_scale_int_round (o->w, width, (gint) meta->width);
        obj.h = (gint) gst_util_uint64_scale_int_round (o->h, height, (gint) meta->height);
      }

      if (o->n_classes > 0)
        g_array_append_val (objects, obj);
    }
  }
  while (!meta && (m = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;
    GstStructure *param = gst_video_region_of_interest_meta_get_param (roi,
        GST_CONVNEXT_ROI_PARAM);
    GArray *entries;

    if (roi->roi_type == g_quark_from_static_string (GST_CONVNEXT_ROI_TYPE) || !param)
      continue;
    entries = g_array_new (FALSE, FALSE, sizeof (OverlayEntry));
    append_roi_param (entries, param);
    g_array_sort (entries, entry_cmp_desc);
    if (entries->len > 0 && g_array_index (entries, OverlayEntry, 0).label) {
      OverlayObject obj = { roi->x, roi->y, roi->w, roi->h,
        g_array_index (entries, OverlayEntry, 0) };
      g_array_append_val (objects, obj);
    }
    g_array_unref (entries);
  }
#if HAVE_GST_ANALYTICS
  if (!meta)
    append_analytics_objects (buf, objects);
#endif
  if (objects->len == 0)
    g_clear_pointer (&objects, g_array_unref);
  return objects;
}
