/* GstConvNextResult: one classification result of convnextclassify, and the writers that put
 * it on a buffer (GstConvNextClassificationMeta, the DL Streamer-style ROI param, and with
 * GStreamer >= 1.24 a GstAnalyticsClsMtd) or on the bus (the "convnext-classification" element
 * message).  No inference and no GStreamer
 * element state here: the element computes a result, these functions only write it.
 *
 * Not thread-safe: a result is filled and read by one thread at a time (the element's
 * streaming thread); whoever hands results between threads copies them. */
#pragma once

#include <convnext.h>
#include <gst/video/video.h>

#include "gstconvnextmeta.h"

G_BEGIN_DECLS

typedef struct {
  guint max_classes;            /* room in @classes */
  guint n_classes;              /* top-k after the threshold, by descending score; may be 0 */
  GstConvNextClass *classes;    /* [max_classes]; labels borrowed (they outlive the result) */
  const gchar *model_name;      /* borrowed */
  guint64 frame_number;         /* the input frame it was computed on (from 0 at start) */
  GstClockTime frame_pts;       /* that frame's PTS */
  GstClockTime frame_duration;  /* that frame's duration */
  GstClockTime inference_time;  /* ns of preprocessing + forward */
  GstStructure *roi_param;      /* the ROI "classification" param, built once per result */
} GstConvNextResult;

GstConvNextResult *gst_convnext_result_new (guint max_classes, const gchar *model_name);
void gst_convnext_result_free (GstConvNextResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstConvNextResult, gst_convnext_result_free)

/* Replaces the classes with @top (at most @result's max_classes entries, descending scores),
 * dropping those below @threshold, and records where and how fast they were computed. */
void gst_convnext_result_set (GstConvNextResult *result, const ConvNextClass *top, guint n_top,
    gdouble threshold, guint64 frame_number, GstClockTime frame_pts,
    GstClockTime frame_duration, GstClockTime inference_time);

/* Forgets the classes (e.g. after a flush): the next attach writes an empty result. */
void gst_convnext_result_clear (GstConvNextResult *result);

/* What gst_convnext_result_attach() writes, as the element's description says it. */
#if HAVE_GST_ANALYTICS
#define GST_CONVNEXT_RESULT_METAS \
  "GstConvNextClassificationMeta, GstVideoRegionOfInterestMeta and GstAnalyticsClsMtd"
#else
#define GST_CONVNEXT_RESULT_METAS "GstConvNextClassificationMeta and GstVideoRegionOfInterestMeta"
#endif

/* Writes @result onto @buf (writable): a GstConvNextClassificationMeta (its age: @buf's PTS
 * minus the result's frame_pts), and a full-frame
 * GstVideoRegionOfInterestMeta of type GST_CONVNEXT_ROI_TYPE (@width × @height) carrying
 * the "classification" param when there is at least one class.  Built with GstAnalytics
 * (GStreamer >= 1.24), also a GstAnalyticsClsMtd in the buffer's GstAnalyticsRelationMeta
 * (added if the buffer has none) when there is at least one class. */
void gst_convnext_result_attach (const GstConvNextResult *result, GstBuffer *buf, guint width,
    guint height);

/* The "convnext-classification" element message for @result: the times are those of the
 * frame it was computed on, converted with @segment (see the element's post-messages
 * property). */
GstMessage *gst_convnext_result_new_message (const GstConvNextResult *result, GstObject *src,
    const GstSegment *segment);

/* ---- inference-region=roi-list: one result per object ---- */

/* Fills @object (whose @classes has room for @max_classes) from a top-k, dropping the
 * entries below @threshold; the other fields are the caller's. */
void gst_convnext_object_set_classes (GstConvNextObject *object, guint max_classes,
    const ConvNextClass *top, guint n_top, gdouble threshold);

/* Writes a roi-list frame's objects onto @buf (writable): a GstConvNextClassificationMeta
 * with no frame classes and one entry per object; for each object with classes, a
 * "classification" param (DL Streamer's fields, as gst_convnext_result_attach()) on its
 * GstVideoRegionOfInterestMeta @rois[i] (NULL: none), and built with GstAnalytics a GstAnalyticsClsMtd
 * related to the object's GstAnalyticsODMtd: OD -CONTAIN|RELATE_TO-> Cls (what upstream's
 * objectdetectionoverlay draws) and Cls -IS_PART_OF-> OD (what DL Streamer's readers follow).
 * @width × @height: the frame's size, which the boxes are in pixels of.
 * @frame_number / @frame_pts / @inference_time: of the newest classification among them. */
void gst_convnext_result_attach_objects (GstBuffer *buf, guint width, guint height,
    const GstConvNextObject *objects, GstVideoRegionOfInterestMeta *const *rois,
    guint n_objects, const gchar *model_name, guint64 frame_number, GstClockTime frame_pts,
    GstClockTime inference_time);

/* The "convnext-classification" message of a roi-list frame (@frame_number, @pts, @duration,
 * the classifications of @inference_time ns): the usual fields with empty top-k arrays, and
 * "objects", a GstValueArray of "object" structures: roi-id, od-id (int, -1 = none),
 * tracking-id (guint64, only when it has one), x, y, w, h (int, frame pixels), frame-number
 * (guint64: the frame it was classified on), labels, class-ids, scores. */
GstMessage *gst_convnext_result_new_objects_message (const GstConvNextObject *objects,
    guint n_objects, const gchar *model_name, GstObject *src, const GstSegment *segment,
    guint64 frame_number, GstClockTime pts, GstClockTime duration, GstClockTime inference_time);

G_END_DECLS
