/* GstConvNextRegions: convnextclassify's inference-region=roi-list bookkeeping — which
 * regions of a frame are classified (gathering, selection) and which objects already have a
 * result (the tracking cache).  No inference, no pixels: the element asks, then classifies.
 *
 * Regions: every GstVideoRegionOfInterestMeta of the buffer, and on GStreamer >= 1.24 every
 * GstAnalyticsODMtd of its GstAnalyticsRelationMeta that no ROI meta already describes (same
 * box and label: detectors that write both are classified once).  A region's box is clipped
 * to the frame; a region that is empty or entirely outside it is skipped.  Selection keeps
 * the regions whose type/label is in object-class (empty: all) and whose clipped box is at
 * least object-min-width × object-min-height.
 *
 * Tracking key (what reclassify-interval counts by): on >= 1.24 the tracking id of the
 * GstAnalyticsTrackingMtd related to the region's ODMtd; otherwise the ROI meta's id (as the
 * detector or tracker set it).  Two regions of one frame with the same key are not one
 * object: both are classified on every frame and neither is cached.
 *
 * Cache rule: an object's latest result is kept under its key and re-attached on the frames
 * between classifications; an object not seen for GST_CONVNEXT_REGIONS_FORGET_FRAMES frames
 * is forgotten (it is classified again if it comes back).
 *
 * Not thread-safe: used by the element's streaming thread only. */
#pragma once

#include <convnext.h>
#include <gst/video/video.h>

#include "gstconvnextmeta.h"

G_BEGIN_DECLS

/* Objects unseen for this many frames leave the cache. */
#define GST_CONVNEXT_REGIONS_FORGET_FRAMES 64

/**
 * GstConvNextRegion: one region selected on a frame.
 * @roi: (nullable): its GstVideoRegionOfInterestMeta on the buffer gathered (valid while
 *   that buffer is being transformed), NULL when it came from an ODMtd alone.
 * @roi_id: that meta's id field (detectors such as facedetect leave it 0 on every region),
 *   or -1.
 * @od_id: its GstAnalyticsODMtd id in the relation meta, or -1 (always -1 before 1.24).
 * @has_key: whether @key is valid (FALSE: no tracking, classified every frame, not cached).
 * @key: the tracking key (see above).
 * @label: ROI type / OD label as a quark.
 * @box: clipped to the frame, in frame pixels.
 * @due: whether it is to be classified on this frame (FALSE: @cached holds its result).
 * @cached: (nullable): the cache's entry when not due (borrowed until the next gather).
 */
typedef struct {
  GstVideoRegionOfInterestMeta *roi;
  gint roi_id;
  gint od_id;
  gboolean has_key;
  guint64 key;
  GQuark label;
  ConvNextRect box;
  gboolean due;
  const GstConvNextObject *cached;
} GstConvNextRegion;

typedef struct _GstConvNextRegions GstConvNextRegions;

GstConvNextRegions *gst_convnext_regions_new (void);
void gst_convnext_regions_free (GstConvNextRegions *regions);

/* Sets the selection: @object_class is a comma-separated list of ROI types / labels
 * (whitespace around names ignored; NULL or "" = all). */
void gst_convnext_regions_set_selection (GstConvNextRegions *regions, const gchar *object_class,
    guint min_width, guint min_height, guint reclassify_interval);

/* Forgets every object (start, flush). */
void gst_convnext_regions_reset (GstConvNextRegions *regions);

/* The regions of @buf (@width × @height frame) that pass the selection, in meta order, each
 * marked due or not for @frame_number.  Also ages the cache.  The array is owned by
 * @regions, valid until the next call; *@n_skipped counts regions that were empty, outside
 * the frame, or too small (the element logs it). */
GstConvNextRegion *gst_convnext_regions_gather (GstConvNextRegions *regions, GstBuffer *buf,
    guint width, guint height, guint64 frame_number, guint *n_regions, guint *n_skipped);

/* Records that @region is being classified on @frame_number (due again per
 * reclassify-interval from then on).  No-op without a key. */
void gst_convnext_regions_mark_requested (GstConvNextRegions *regions,
    const GstConvNextRegion *region, guint64 frame_number);

/* Stores a result computed on frame @frame_number for the object of key @key (no-op when
 * !@has_key).  @object is copied; its labels are borrowed (they outlive the cache).  A
 * result older than the stored one is ignored.  Returns the cache's entry, or NULL. */
const GstConvNextObject *gst_convnext_regions_store (GstConvNextRegions *regions,
    gboolean has_key, guint64 key, const GstConvNextObject *object);

/* The cached result of @key, or NULL. */
const GstConvNextObject *gst_convnext_regions_lookup (GstConvNextRegions *regions,
    guint64 key);

G_END_DECLS
