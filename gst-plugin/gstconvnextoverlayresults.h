/* What convnextoverlay draws for one buffer, read from its metadata: the frame's classes and the
 * classified objects.  No drawing here (gstconvnextoverlay.c renders them).  Reads: the
 * convnext meta (GstConvNextClassificationMeta), GstVideoRegionOfInterestMeta "classification"
 * params (DL Streamer's fields), and on GStreamer >= 1.24 GstAnalyticsClsMtd / ODMtd.
 * Thread safety: functions of the buffer alone; the strings borrowed from it. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* One class: its label (borrowed from the buffer's metadata or a quark: valid while the buffer
 * is) and its score in [0, 1]. */
typedef struct {
  const gchar *label;
  gdouble score;
} OverlayEntry;

/* One classified object (inference-region=roi-list): its box, in pixels of the frame, and its
 * best class. */
typedef struct {
  gint x, y, w, h;
  OverlayEntry best;
} OverlayObject;

/* The classification of @buf, best first (GArray of OverlayEntry): the convnext meta's classes,
 * else (>= 1.24) the frame's GstAnalyticsClsMtd (the first no ODMtd relates to), else the
 * "classification" params of the full-frame "convnext" ROI.  NULL when the buffer carries none. */
GArray *gst_convnext_overlay_frame_classes (GstBuffer *buf);

/* The classified objects of @buf, a @width × @height frame (GArray of OverlayObject, boxes in
 * its pixels): the convnext meta's objects (their boxes scaled from the meta's frame size when
 * the frame was resized after the classifier), else every other ROI with a "classification"
 * param and (>= 1.24) every GstAnalyticsODMtd that RELATE_TO links to a ClsMtd, each box once.
 * NULL when there are none. */
GArray *gst_convnext_overlay_objects (GstBuffer *buf, gint width, gint height);

G_END_DECLS
