/* convnextoverlay: draws the top-k labels of GstConvNextClassificationMeta on the frame. */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GstConvNextOverlayPosition:
 * @GST_CONVNEXT_OVERLAY_POSITION_TOP_LEFT: top-left corner.
 * @GST_CONVNEXT_OVERLAY_POSITION_TOP_RIGHT: top-right corner.
 * @GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_LEFT: bottom-left corner.
 * @GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_RIGHT: bottom-right corner.
 *
 * The corner of the frame the label box is drawn in.
 */
typedef enum {
  GST_CONVNEXT_OVERLAY_POSITION_TOP_LEFT,
  GST_CONVNEXT_OVERLAY_POSITION_TOP_RIGHT,
  GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_LEFT,
  GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_RIGHT,
} GstConvNextOverlayPosition;

GType gst_convnext_overlay_position_get_type (void);
#define GST_TYPE_CONVNEXT_OVERLAY_POSITION (gst_convnext_overlay_position_get_type ())

#define GST_TYPE_CONVNEXT_OVERLAY (gst_convnext_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstConvNextOverlay, gst_convnext_overlay, GST, CONVNEXT_OVERLAY, GstElement)

GST_ELEMENT_REGISTER_DECLARE (convnextoverlay);

G_END_DECLS
