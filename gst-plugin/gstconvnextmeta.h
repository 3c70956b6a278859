/* GstConvNextClassificationMeta — the classification result convnextclassify attaches
 * to every buffer.  Public: installed as <convnext/gstconvnextmeta.h>, implemented in
 * libgstconvnextmeta-1.0 (pkg-config gstconvnextmeta-1.0) so applications can read it.
 *
 *   GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
 *   for (guint i = 0; meta && i < meta->n_classes; i++)
 *     g_print ("%s %.3f\n", meta->classes[i].label, meta->classes[i].score);
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstConvNextClass:
 * @class_id: index of the class in the model's logits.
 * @score: softmax probability, 0..1.
 * @label: (transfer none): the class label, owned by the meta.
 */
typedef struct {
  guint class_id;
  gfloat score;
  gchar *label;
} GstConvNextClass;

/**
 * GstConvNextObject: the classification of one detected object (inference-region=roi-list).
 * @roi_id: the id field of the GstVideoRegionOfInterestMeta it belongs to (as
 *   gst_buffer_get_video_region_of_interest_meta_id() takes), or -1 when the object came
 *   from a GstAnalyticsODMtd alone.  Detectors that leave every id 0 (facedetect) make it
 *   ambiguous: match by box then (the ROI meta itself carries the classification param).
 * @od_id: id of its GstAnalyticsODMtd in the buffer's GstAnalyticsRelationMeta, or -1.
 * @has_tracking_id: whether @tracking_id is valid.
 * @tracking_id: what reclassify-interval keyed the object by (the GstAnalyticsTrackingMtd's
 *   id on GStreamer >= 1.24, else the ROI meta's id field).
 * @x, @y, @w, @h: the box that was classified, in pixels of this buffer (clipped to the frame).
 * @frame_number: the input frame the classification was computed on (older than this buffer
 *   when reclassify-interval or async-inference reused it).
 * @n_classes: entries in @classes (top-k after the threshold; may be 0).
 * @classes: (array length=n_classes): by descending score; labels owned by the meta.
 */
typedef struct {
  gint roi_id;
  gint od_id;
  gboolean has_tracking_id;
  guint64 tracking_id;
  gint x, y;
  guint w, h;
  guint64 frame_number;
  guint n_classes;
  GstConvNextClass *classes;
} GstConvNextObject;

/**
 * GstConvNextClassificationMeta:
 * @meta: parent.
 * @n_classes: number of entries in @classes (top-k after the threshold; may be 0).
 * @classes: (array length=n_classes): entries by descending score.
 * @model_name: (transfer none): name of the model (its directory's basename).
 * @frame_number: index (from 0 since the element started) of the input frame the result
 *   was computed on; equals the buffer's own index unless inference-interval > 1.
 * @frame_pts: PTS of that frame (GST_CLOCK_TIME_NONE if it had none).
 * @inference_time: wall-clock time of preprocessing + inference for that frame, in ns.
 * @age: how much older that frame is than this buffer: this buffer's PTS minus @frame_pts
 *   when convnextclassify attached the result, in ns; 0 when the result was computed on this
 *   very frame; GST_CLOCK_TIME_NONE when a PTS is missing.  With inference-interval N it is
 *   up to N - 1 frame durations; with async-inference, between about one and two inference
 *   times plus up to a frame period.  (Added after the other fields;
 *   gst_buffer_add_convnext_classification_meta() leaves it GST_CLOCK_TIME_NONE.)
 * @n_objects: entries in @objects (inference-region=roi-list; 0 in full-frame mode, where
 *   @classes holds the frame's result; in roi-list mode @n_classes is 0).  Added last.
 * @objects: (array length=n_objects): one per classified object, in the order of the
 *   buffer's region metas.
 * @width, @height: the size of the frame whose pixels the objects' boxes are in (the
 *   classified frame's), or 0 when unknown (a meta made by
 *   gst_buffer_add_convnext_classification_meta() alone).  This meta's API has no tags, so
 *   that it survives every element; the price is that an element which resizes the picture
 *   (videoscale) copies it without touching the boxes.  A reader on a frame of another size
 *   scales each box by its frame size over @width × @height, as convnextoverlay does.  Flips
 *   and rotations (videoflip) are not followed: draw objects before those.  A scale transform
 *   (GstVideoMetaTransform, should an element call it) rescales the boxes and these.  Added
 *   after @objects.
 *
 * Survives copies, tee, queue, videoconvert, videoscale and videorate (its transform copies it
 * for copy and video transforms: a whole-frame classification does not depend on size).
 */
typedef struct {
  GstMeta meta;
  guint n_classes;
  GstConvNextClass *classes;
  gchar *model_name;
  guint64 frame_number;
  GstClockTime frame_pts;
  GstClockTime inference_time;
  GstClockTime age;
  guint n_objects;
  GstConvNextObject *objects;
  guint width, height;
} GstConvNextClassificationMeta;

GType gst_convnext_classification_meta_api_get_type (void);
#define GST_CONVNEXT_CLASSIFICATION_META_API_TYPE (gst_convnext_classification_meta_api_get_type ())

const GstMetaInfo *gst_convnext_classification_meta_get_info (void);
#define GST_CONVNEXT_CLASSIFICATION_META_INFO (gst_convnext_classification_meta_get_info ())

#define gst_buffer_get_convnext_classification_meta(b) \
  ((GstConvNextClassificationMeta *) gst_buffer_get_meta ((b), GST_CONVNEXT_CLASSIFICATION_META_API_TYPE))

/**
 * gst_buffer_add_convnext_classification_meta:
 * @buffer: a writable buffer.
 * @classes: (array length=n_classes): entries to copy (labels are copied).
 * @model_name: copied.
 *
 * Returns: (transfer none): the new meta.
 */
GstConvNextClassificationMeta *gst_buffer_add_convnext_classification_meta (GstBuffer *buffer,
    const GstConvNextClass *classes, guint n_classes, const gchar *model_name,
    guint64 frame_number, GstClockTime frame_pts, GstClockTime inference_time);

/**
 * gst_convnext_classification_meta_add_objects:
 * @meta: a meta of a writable buffer.
 * @objects: (array length=n_objects): appended, deep-copied (classes and labels).
 */
void gst_convnext_classification_meta_add_objects (GstConvNextClassificationMeta *meta,
    const GstConvNextObject *objects, guint n_objects);

/* The ROI meta convention (DL Streamer): a full-frame GstVideoRegionOfInterestMeta of this
 * roi_type carries a GstStructure param named "classification" with fields label (string),
 * label_id (int), confidence (double), model_name (string).
 * Those describe the best class; the whole top-k (after the threshold), by descending score,
 * is in the extra fields labels (GstValueArray of string), label_ids (GstValueArray of int)
 * and confidences (GstValueArray of double).  When no class passes the threshold the ROI meta
 * has no "classification" param.
 * The ROI meta is GStreamer's, and GStreamer 1.22 does not carry it everywhere (checked on
 * 1.22.0): videoscale, and videoconvert when it converts the format, keep the ROI (box
 * rescaled) but drop its params, so the "classification" param is gone; a videoflip that
 * rotates or transposes (video-direction 90r, 90l, ul-lr, ur-ll, or automatic) drops the ROI
 * meta itself.  GstConvNextClassificationMeta survives all of these (tee, queue,
 * videoconvert, videoscale, videorate, videoflip): readers downstream of such elements should
 * read it, or, on GStreamer >= 1.24, the GstAnalyticsClsMtd of the buffer's
 * GstAnalyticsRelationMeta. */
#define GST_CONVNEXT_ROI_TYPE "convnext"
#define GST_CONVNEXT_ROI_PARAM "classification"

G_END_DECLS
