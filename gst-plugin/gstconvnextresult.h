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

G_END_DECLS
