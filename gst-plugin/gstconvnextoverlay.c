/* convnextoverlay: draws the classification convnextclassify attached to each frame (the top-k
 * labels with their scores) as text on a semi-transparent box in a corner of the frame.
 *
 *   gst-launch-1.0 v4l2src ! videoconvert ! convnextclassify ! convnextoverlay ! autovideosink
 *
 * It reads GstConvNextClassificationMeta, or, when a buffer has none and it was built against
 * GStreamer >= 1.24, the frame's GstAnalyticsClsMtd (the first one that no object detection in
 * the GstAnalyticsRelationMeta relates to: those classify objects, not the frame), or else the
 * "classification" param of a GstVideoRegionOfInterestMeta of roi_type "convnext" (DL Streamer's
 * convention; its labels/confidences arrays when present, else its top-1 label/confidence). The box is a
 * GstVideoOverlayComposition whose one rectangle is rendered with Pango/Cairo. When downstream
 * accepts the caps feature meta:GstVideoOverlayComposition and lists
 * GstVideoOverlayCompositionMeta in its ALLOCATION answer, the composition travels as a meta and
 * the pixels are untouched; otherwise it is blended into the frame, which is the only time the
 * frame is mapped for writing. The composition is rebuilt only when the text, a property or the
 * caps change. Frames without a classification pass through unchanged.
 *
 * Objects (convnextclassify inference-region=roi-list, issue 16): each classified object is
 * drawn as its box's outline (2 px, in the text colour, inside the box) with its best class on a
 * label box just above it (inside it when the box touches the top of the frame), read from the
 * convnext meta's objects or, when a buffer has none, from every GstVideoRegionOfInterestMeta of
 * another type than "convnext" that carries a "classification" param (any DL Streamer
 * classifier's output) and, on GStreamer >= 1.24, from every GstAnalyticsODMtd that RELATE_TO
 * links to a GstAnalyticsClsMtd (as upstream's objectdetectionoverlay follows it; an OD whose box
 * is already drawn from its ROI is drawn once). These rectangles are rendered for every frame, since objects move:
 *
 *   ... ! facedetect ! convnextclassify inference-region=roi-list object-class=face !
 *   convnextoverlay ! videoconvert ! autovideosink
 */
#include "gstconvnextoverlay.h"

#include <pango/pangocairo.h>
#include <string.h>

#include "gstconvnextoverlayresults.h"

GST_DEBUG_CATEGORY_STATIC (gst_convnext_overlay_debug);
#define GST_CAT_DEFAULT gst_convnext_overlay_debug

/* What convnextclassify accepts, plus the common YUV layouts a videoconvert may produce after it
 * (the metadata survives conversion); the tests blend into each. Not
 * GST_VIDEO_OVERLAY_COMPOSITION_BLEND_FORMATS: in 1.22 that is every format, tiled and 10-bit
 * ones included. */
#define OVERLAY_FORMATS \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, YV12, NV12, NV21, Y42B, " \
  "Y444, YUY2, UYVY, AYUV, GRAY8 }"
#define OVERLAY_FEATURE GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS) ";"
        GST_VIDEO_CAPS_MAKE_WITH_FEATURES (GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY ","
            OVERLAY_FEATURE, OVERLAY_FORMATS)));

enum {
  PROP_0,
  PROP_POSITION,
  PROP_FONT_DESC,
  PROP_LINES,
  PROP_SHOW_SCORE,
  PROP_COLOR,
};

#define DEFAULT_POSITION GST_CONVNEXT_OVERLAY_POSITION_TOP_LEFT
#define DEFAULT_FONT_DESC "Sans 12"
#define DEFAULT_LINES 5
#define DEFAULT_SHOW_SCORE TRUE
#define DEFAULT_COLOR 0xffffffff
#define MAX_LINES 100
/* The box behind the text: black at this opacity, so the labels stay readable on any picture. */
#define BOX_ALPHA 0.6
/* The width of an object's outline, in pixels (even: see place_box). */
#define BOX_LINE 2

/* A snapshot of the properties, taken under the object lock before rendering. */
typedef struct {
  GstConvNextOverlayPosition position;
  gchar *font_desc;
  guint lines;
  gboolean show_score;
  guint color;
} OverlayProps;

struct _GstConvNextOverlay {
  GstElement parent;
  GstPad *sinkpad;
  GstPad *srcpad;

  /* Properties, under the object lock; props_changed tells the streaming thread to re-render. */
  OverlayProps props;
  gboolean props_changed;

  /* Streaming-thread state. */
  GstVideoInfo info;
  gboolean attach;                          /* send the composition as meta instead of blending */
  gchar *text;                              /* the text @composition shows; NULL: none yet */
  GstVideoOverlayComposition *composition;  /* NULL when the text does not fit the frame */
};

/* Spelled out rather than G_DEFINE_ENUM_TYPE, whose descriptions (what gst-inspect shows) are
 * the C identifiers. */
GType
gst_convnext_overlay_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_CONVNEXT_OVERLAY_POSITION_TOP_LEFT, "Top left corner", "top-left" },
    { GST_CONVNEXT_OVERLAY_POSITION_TOP_RIGHT, "Top right corner", "top-right" },
    { GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_LEFT, "Bottom left corner", "bottom-left" },
    { GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_RIGHT, "Bottom right corner", "bottom-right" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstConvNextOverlayPosition", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

G_DEFINE_TYPE (GstConvNextOverlay, gst_convnext_overlay, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (convnextoverlay, "convnextoverlay", GST_RANK_NONE,
    GST_TYPE_CONVNEXT_OVERLAY);

/* ------------------------------------------------------------------------------------------
 * Text: the frame's classes as lines (gstconvnextoverlayresults.c reads them)
 * ------------------------------------------------------------------------------------------ */

/* One line per class: the score as a percentage, padded with figure spaces (U+2007, as wide as
 * a digit) so the labels line up, then the label on one line and as valid UTF-8. */
static void
append_line (GString *text, const OverlayEntry *e, gboolean show_score)
{
  gchar *label = g_utf8_make_valid (e->label ? e->label : "", -1);

  g_strdelimit (label, "\r\n\t", ' ');
  if (text->len)
    g_string_append_c (text, '\n');
  if (show_score) {
    gchar num[G_ASCII_DTOSTR_BUF_SIZE];

    g_ascii_formatd (num, sizeof num, "%.1f", CLAMP (e->score, 0.0, 1.0) * 100.0);
    for (gsize w = strlen (num); w < 5; w++)
      g_string_append (text, "\u2007");
    g_string_append_printf (text, "%s%%  ", num);
  }
  g_string_append (text, label);
  g_free (label);
}

/* The text for @buf, or NULL when it carries no classification (or an empty one). */
static gchar *
build_text (GstBuffer *buf, guint lines, gboolean show_score)
{
  GArray *entries = gst_convnext_overlay_frame_classes (buf);
  GString *text;

  if (!entries)
    return NULL;
  text = g_string_new (NULL);
  for (guint i = 0; i < MIN (lines, entries->len); i++)
    append_line (text, &g_array_index (entries, OverlayEntry, i), show_score);
  g_array_unref (entries);
  if (text->len == 0) {
    g_string_free (text, TRUE);
    return NULL;
  }
  return g_string_free (text, FALSE);
}

/* ------------------------------------------------------------------------------------------
 * Rendering: text -> one GstVideoOverlayRectangle
 * ------------------------------------------------------------------------------------------ */

/* Where a box of @w x @h goes in a @fw x @fh frame. Coordinates are even so that chroma samples
 * of 4:2:0/4:2:2 frames are never shared with pixels outside the box. */
static void
place_box (GstConvNextOverlayPosition position, gint fw, gint fh, gint w, gint h, gint margin,
    gint *x, gint *y)
{
  gboolean right = position == GST_CONVNEXT_OVERLAY_POSITION_TOP_RIGHT ||
      position == GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_RIGHT;
  gboolean bottom = position == GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_LEFT ||
      position == GST_CONVNEXT_OVERLAY_POSITION_BOTTOM_RIGHT;

  *x = right ? (fw - margin - w) & ~1 : margin;
  *y = bottom ? (fh - margin - h) & ~1 : margin;
}

/* GRAY8 frames: gst_video_overlay_composition_blend turns ARGB into studio-range BT.601 luma
 * (white text would come out as 235 on a full-range frame), so hand it an AYUV rectangle holding
 * the luma in the frame's own range instead. @argb is premultiplied, AYUV is not. */
static GstBuffer *
argb_to_gray_ayuv (GstBuffer *argb, gint w, gint h, GstVideoColorRange range)
{
  GstBuffer *out = gst_buffer_new_allocate (NULL, (gsize) w * h * 4, NULL);
  GstMapInfo in, o;

  gst_buffer_map (argb, &in, GST_MAP_READ);
  gst_buffer_map (out, &o, GST_MAP_WRITE);
  for (gsize i = 0; i < (gsize) w * h; i++) {
    guint32 px = ((const guint32 *) in.data)[i];   /* cairo ARGB32: native-endian words */
    guint a = px >> 24, r = (px >> 16) & 0xff, g = (px >> 8) & 0xff, b = px & 0xff;
    gdouble y = a ? (0.299 * r + 0.587 * g + 0.114 * b) * 255.0 / a : 0.0;

    if (range == GST_VIDEO_COLOR_RANGE_16_235)
      y = 16.0 + y * 219.0 / 255.0;
    o.data[4 * i + 0] = a;
    o.data[4 * i + 1] = (guint8) CLAMP (y + 0.5, 0.0, 255.0);
    o.data[4 * i + 2] = 128;
    o.data[4 * i + 3] = 128;
  }
  gst_buffer_unmap (out, &o);
  gst_buffer_unmap (argb, &in);
  gst_buffer_add_video_meta (out, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_YUV, w, h);
  return out;
}

/* The colour property's RGB (0xAARRGGBB) at @alpha as cairo's source. */
static void
set_source_color (cairo_t *cr, guint color, gdouble alpha)
{
  cairo_set_source_rgba (cr, ((color >> 16) & 0xff) / 255.0, ((color >> 8) & 0xff) / 255.0,
      (color & 0xff) / 255.0, alpha);
}

/* A rectangle at @x, @y of the premultiplied ARGB @pixels (taken); for a GRAY8 frame that is
 * blended into, converted to gray AYUV first (see argb_to_gray_ayuv). */
static GstVideoOverlayRectangle *
new_rectangle (GstConvNextOverlay *self, GstBuffer *pixels, gint x, gint y, gint w, gint h)
{
  GstVideoOverlayRectangle *rect;

  if (!self->attach && GST_VIDEO_INFO_FORMAT (&self->info) == GST_VIDEO_FORMAT_GRAY8) {
    GstBuffer *ayuv = argb_to_gray_ayuv (pixels, w, h, self->info.colorimetry.range);
    rect = gst_video_overlay_rectangle_new_raw (ayuv, x, y, w, h,
        GST_VIDEO_OVERLAY_FORMAT_FLAG_NONE);
    gst_buffer_unref (ayuv);
  } else {
    rect = gst_video_overlay_rectangle_new_raw (pixels, x, y, w, h,
        GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  }
  gst_buffer_unref (pixels);
  return rect;
}

/* The outline of @o's box in the text colour, opaque, BOX_LINE px wide (even, inside the box),
 * clipped to the frame with even edges (see place_box). NULL when nothing of it is visible. */
static GstVideoOverlayRectangle *
render_outline (GstConvNextOverlay *self, const OverlayObject *o, const OverlayProps *p)
{
  gint fw = GST_VIDEO_INFO_WIDTH (&self->info), fh = GST_VIDEO_INFO_HEIGHT (&self->info);
  gint x0 = CLAMP (o->x, 0, fw) & ~1, y0 = CLAMP (o->y, 0, fh) & ~1;
  gint x1 = (CLAMP (o->x + o->w, 0, fw) + 1) & ~1, y1 = (CLAMP (o->y + o->h, 0, fh) + 1) & ~1;
  gint w = MIN (x1, fw & ~1) - x0, h = MIN (y1, fh & ~1) - y0;
  gint t = MIN (BOX_LINE, MIN (w, h) / 2) & ~1;
  GstBuffer *pixels;
  GstMapInfo map;
  cairo_surface_t *surface;
  cairo_t *cr;

  if (w < 2 || h < 2 || t < 2)
    return NULL;
  pixels = gst_buffer_new_allocate (NULL, (gsize) w * h * 4, NULL);
  gst_buffer_map (pixels, &map, GST_MAP_READWRITE);
  surface = cairo_image_surface_create_for_data (map.data, CAIRO_FORMAT_ARGB32, w, h, w * 4);
  cr = cairo_create (surface);
  cairo_set_operator (cr, CAIRO_OPERATOR_SOURCE);
  cairo_set_source_rgba (cr, 0, 0, 0, 0);
  cairo_paint (cr);
  set_source_color (cr, p->color, 1.0);
  cairo_rectangle (cr, 0, 0, w, t);
  cairo_rectangle (cr, 0, h - t, w, t);
  cairo_rectangle (cr, 0, t, t, h - 2 * t);
  cairo_rectangle (cr, w - t, t, t, h - 2 * t);
  cairo_fill (cr);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  gst_buffer_unmap (pixels, &map);
  gst_buffer_add_video_meta (pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, w, h);
  return new_rectangle (self, pixels, x0, y0, w, h);
}

/* Renders @text on its box for the current frame size, in the corner that the position property
 * says or, with @above, just above that object's box (inside it when the box touches the top of
 * the frame). Returns NULL when the box does not fit (frames only a few pixels wide). */
static GstVideoOverlayRectangle *
render_rectangle (GstConvNextOverlay *self, const gchar *text, const OverlayProps *p,
    const OverlayObject *above)
{
  gint fw = GST_VIDEO_INFO_WIDTH (&self->info), fh = GST_VIDEO_INFO_HEIGHT (&self->info);
  gint margin = (MIN (fw, fh) / 50) & ~1;
  PangoFontDescription *desc = pango_font_description_from_string (p->font_desc);
  PangoContext *context;
  PangoLayout *layout;
  PangoRectangle logical;
  gint pad, w, h, x, y;
  GstBuffer *pixels;
  GstVideoOverlayRectangle *rect = NULL;
  GstMapInfo map;
  cairo_surface_t *surface;
  cairo_t *cr;

  /* Pango's default font map is per thread (safe in whichever streaming thread we run) and
   * keeps its font caches across elements and frames. */
  context = pango_font_map_create_context (pango_cairo_font_map_get_default ());
  layout = pango_layout_new (context);
  pango_layout_set_font_description (layout, desc);
  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_extents (layout, NULL, &logical);
  pad = MAX (2, logical.height / MAX (1, pango_layout_get_line_count (layout)) / 4);

  /* Even sizes (see place_box), clipped to the frame. */
  w = MIN ((logical.width + 2 * pad + 1) & ~1, (fw - 2 * margin) & ~1);
  h = MIN ((logical.height + 2 * pad + 1) & ~1, (fh - 2 * margin) & ~1);
  if (w < 2 || h < 2) {
    GST_DEBUG_OBJECT (self, "a %dx%d frame has no room for the label box", fw, fh);
    goto out;
  }
  if (above) {
    x = CLAMP (above->x, 0, fw - w) & ~1;
    y = (above->y - h >= 0 ? above->y - h : CLAMP (above->y, 0, fh - h)) & ~1;
  } else {
    place_box (p->position, fw, fh, w, h, margin, &x, &y);
  }

  /* Draw straight into the rectangle's buffer: cairo's ARGB32 is premultiplied native-endian,
   * which is GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB (BGRA on little-endian hosts). */
  pixels = gst_buffer_new_allocate (NULL, (gsize) w * h * 4, NULL);
  gst_buffer_map (pixels, &map, GST_MAP_READWRITE);
  surface = cairo_image_surface_create_for_data (map.data, CAIRO_FORMAT_ARGB32, w, h, w * 4);
  cr = cairo_create (surface);
  cairo_set_operator (cr, CAIRO_OPERATOR_SOURCE);
  cairo_set_source_rgba (cr, 0.0, 0.0, 0.0, BOX_ALPHA);
  cairo_paint (cr);
  cairo_set_operator (cr, CAIRO_OPERATOR_OVER);
  set_source_color (cr, p->color, (p->color >> 24) / 255.0);
  cairo_move_to (cr, pad - logical.x, pad - logical.y);
  pango_cairo_update_layout (cr, layout);
  pango_cairo_show_layout (cr, layout);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  gst_buffer_unmap (pixels, &map);
  gst_buffer_add_video_meta (pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, w, h);

  rect = new_rectangle (self, pixels, x, y, w, h);
  GST_DEBUG_OBJECT (self, "rendered a %dx%d box at %d,%d", w, h, x, y);

out:
  g_object_unref (layout);
  g_object_unref (context);
  pango_font_description_free (desc);
  return rect;
}

/* A snapshot of the properties for rendering (the font description copied: g_free it); called
 * with the object lock held. */
static void
copy_props_locked (GstConvNextOverlay *self, OverlayProps *p)
{
  *p = self->props;
  p->font_desc = g_strdup (self->props.font_desc);
}

/* Makes self->composition show @text (taken), re-rendering only when something changed. */
static void
update_composition (GstConvNextOverlay *self, gchar *text)
{
  OverlayProps p;
  gboolean changed;
  GstVideoOverlayRectangle *rect;

  GST_OBJECT_LOCK (self);
  changed = self->props_changed;
  self->props_changed = FALSE;
  copy_props_locked (self, &p);
  GST_OBJECT_UNLOCK (self);

  if (!changed && self->text && strcmp (text, self->text) == 0) {
    g_free (text);
    g_free (p.font_desc);
    return;
  }
  GST_LOG_OBJECT (self, "new text:\n%s", text);
  g_free (self->text);
  self->text = text;
  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
  rect = render_rectangle (self, text, &p, NULL);
  if (rect) {
    self->composition = gst_video_overlay_composition_new (rect);
    gst_video_overlay_rectangle_unref (rect);
  }
  g_free (p.font_desc);
}

/* What to draw on this frame: the full-frame box (@frame, the cached composition, or NULL),
 * then each of @objects (taken) as its outline and its best class above it, rendered anew for
 * every frame since objects move. A new reference, or NULL when there is nothing to draw. */
static GstVideoOverlayComposition *
frame_composition (GstConvNextOverlay *self, GstVideoOverlayComposition *frame, GArray *objects)
{
  GstVideoOverlayComposition *comp;
  OverlayProps p;

  if (!objects)
    return frame ? gst_video_overlay_composition_ref (frame) : NULL;
  GST_OBJECT_LOCK (self);
  copy_props_locked (self, &p);
  GST_OBJECT_UNLOCK (self);

  comp = frame ? gst_video_overlay_composition_copy (frame)
      : gst_video_overlay_composition_new (NULL);
  for (guint i = 0; i < objects->len; i++) {
    const OverlayObject *o = &g_array_index (objects, OverlayObject, i);
    GString *label = g_string_new (NULL);
    GstVideoOverlayRectangle *rects[2];

    append_line (label, &o->best, p.show_score);
    rects[0] = render_outline (self, o, &p);
    rects[1] = render_rectangle (self, label->str, &p, o);
    for (guint r = 0; r < 2; r++) {
      if (rects[r]) {
        gst_video_overlay_composition_add_rectangle (comp, rects[r]);
        gst_video_overlay_rectangle_unref (rects[r]);
      }
    }
    g_string_free (label, TRUE);
  }
  g_array_unref (objects);
  g_free (p.font_desc);
  if (gst_video_overlay_composition_n_rectangles (comp) == 0)
    g_clear_pointer (&comp, gst_video_overlay_composition_unref);
  return comp;
}

/* Forgets the rendered text so the next frame re-renders (new size, format or output mode). */
static void
reset_composition (GstConvNextOverlay *self)
{
  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
}

/* ------------------------------------------------------------------------------------------
 * Negotiation: attach or blend
 * ------------------------------------------------------------------------------------------ */

/* @caps with the overlay-composition feature added to (@add) or removed from each structure. */
static GstCaps *
caps_set_overlay_feature (GstCaps *caps, gboolean add)
{
  GstCaps *out = gst_caps_new_empty ();

  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    GstCapsFeatures *f = gst_caps_features_copy (gst_caps_get_features (caps, i));

    if (!gst_caps_features_is_any (f)) {
      if (add) {
        gst_caps_features_add (f, OVERLAY_FEATURE);
      } else {
        gst_caps_features_remove (f, OVERLAY_FEATURE);
        if (gst_caps_features_get_size (f) == 0)
          gst_caps_features_add (f, GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY);
      }
    }
    out = gst_caps_merge_structure_full (out,
        gst_structure_copy (gst_caps_get_structure (caps, i)), f);
  }
  return out;
}

/* Decides how to deliver the overlay for the sink @caps and sets the src caps: the caps with
 * meta:GstVideoOverlayComposition when downstream accepts them and its ALLOCATION answer lists
 * the meta, else @caps themselves (and we blend). */
static gboolean
gst_convnext_overlay_negotiate (GstConvNextOverlay *self, GstCaps *caps)
{
  GstCaps *overlay_caps, *peer_caps;
  gboolean attach = FALSE, ret;

  /* The reconfigure this may answer is handled here; don't negotiate twice. */
  gst_pad_check_reconfigure (self->srcpad);
  caps = caps ? gst_caps_ref (caps) : gst_pad_get_current_caps (self->sinkpad);
  if (!caps)
    return FALSE;

  overlay_caps = caps_set_overlay_feature (caps, TRUE);
  peer_caps = gst_pad_peer_query_caps (self->srcpad, overlay_caps);
  /* Downstream must see the caps before it can answer an ALLOCATION query for them. */
  if (!gst_caps_is_empty (peer_caps) && gst_pad_set_caps (self->srcpad, overlay_caps)) {
    GstQuery *query = gst_query_new_allocation (overlay_caps, FALSE);

    if (gst_pad_peer_query (self->srcpad, query))
      attach = gst_query_find_allocation_meta (query,
          GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE, NULL);
    gst_query_unref (query);
  }
  gst_caps_unref (peer_caps);

  ret = attach || gst_pad_set_caps (self->srcpad, caps);
  GST_DEBUG_OBJECT (self, "%s the overlay for %" GST_PTR_FORMAT,
      attach ? "attaching" : "blending", attach ? overlay_caps : caps);
  if (attach != self->attach)
    reset_composition (self);
  self->attach = attach;
  if (!ret)
    gst_pad_mark_reconfigure (self->srcpad);
  gst_caps_unref (overlay_caps);
  gst_caps_unref (caps);
  return ret;
}

/* Caps upstream may send: what downstream takes (with or without the feature, which we add
 * ourselves), within our template. */
static GstCaps *
sink_query_caps (GstConvNextOverlay *self, GstCaps *filter)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (self->sinkpad);
  GstCaps *peer_filter = NULL, *peer, *caps;

  if (filter)
    peer_filter = gst_caps_merge (caps_set_overlay_feature (filter, TRUE), gst_caps_ref (filter));
  peer = gst_pad_peer_query_caps (self->srcpad, peer_filter);
  if (gst_caps_is_any (peer)) {
    caps = gst_caps_ref (templ);
  } else {
    GstCaps *plain = caps_set_overlay_feature (peer, FALSE);
    caps = gst_caps_intersect_full (plain, templ, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (plain);
  }
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  gst_clear_caps (&peer_filter);
  gst_caps_unref (peer);
  gst_caps_unref (templ);
  return caps;
}

/* Caps we may produce: what upstream offers, plain or with the feature. */
static GstCaps *
src_query_caps (GstConvNextOverlay *self, GstCaps *filter)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (self->srcpad);
  GstCaps *peer_filter = filter ? caps_set_overlay_feature (filter, FALSE) : NULL;
  GstCaps *peer = gst_pad_peer_query_caps (self->sinkpad, peer_filter);
  GstCaps *caps;

  if (gst_caps_is_any (peer)) {
    caps = gst_caps_ref (templ);
  } else {
    GstCaps *both = gst_caps_merge (gst_caps_ref (peer), caps_set_overlay_feature (peer, TRUE));
    caps = gst_caps_intersect_full (both, templ, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (both);
  }
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  gst_clear_caps (&peer_filter);
  gst_caps_unref (peer);
  gst_caps_unref (templ);
  return caps;
}

static gboolean
gst_convnext_overlay_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter, *caps;

    gst_query_parse_caps (query, &filter);
    caps = pad == self->sinkpad ? sink_query_caps (self, filter) : src_query_caps (self, filter);
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
gst_convnext_overlay_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (parent);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    GstVideoInfo info;
    gboolean ret = FALSE;

    gst_event_parse_caps (event, &caps);
    if (gst_video_info_from_caps (&info, caps)) {
      if (!gst_video_info_is_equal (&info, &self->info))
        reset_composition (self);
      self->info = info;
      ret = gst_convnext_overlay_negotiate (self, caps);
    } else {
      GST_WARNING_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, caps);
    }
    gst_event_unref (event);   /* negotiate() sent our own caps downstream */
    return ret;
  }
  return gst_pad_event_default (pad, parent, event);
}

/* ------------------------------------------------------------------------------------------
 * Streaming
 * ------------------------------------------------------------------------------------------ */

static GstFlowReturn
gst_convnext_overlay_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (parent);
  guint lines;
  gboolean show_score;
  gchar *text;
  GstVideoOverlayComposition *comp;
  GstFlowReturn ret;

  if (gst_pad_check_reconfigure (self->srcpad) && !gst_convnext_overlay_negotiate (self, NULL)) {
    gst_buffer_unref (buf);
    return GST_PAD_IS_FLUSHING (self->srcpad) ? GST_FLOW_FLUSHING : GST_FLOW_NOT_NEGOTIATED;
  }

  GST_OBJECT_LOCK (self);
  lines = self->props.lines;
  show_score = self->props.show_score;
  GST_OBJECT_UNLOCK (self);

  text = build_text (buf, lines, show_score);
  if (text)
    update_composition (self, text);
  comp = frame_composition (self, text ? self->composition : NULL,
      gst_convnext_overlay_objects (buf, GST_VIDEO_INFO_WIDTH (&self->info),
          GST_VIDEO_INFO_HEIGHT (&self->info)));
  if (!comp)
    return gst_pad_push (self->srcpad, buf);

  /* Writable buffer (no pixel copy: its memory is still shared) for the meta or the blend. */
  buf = gst_buffer_make_writable (buf);
  if (self->attach) {
    GstVideoOverlayCompositionMeta *upstream = gst_buffer_get_video_overlay_composition_meta (buf);

    if (upstream) {
      /* Keep what an upstream overlay attached: our box goes on top of its rectangles. */
      GstVideoOverlayComposition *merged = gst_video_overlay_composition_new (NULL);

      for (guint i = 0; i < gst_video_overlay_composition_n_rectangles (upstream->overlay); i++)
        gst_video_overlay_composition_add_rectangle (merged,
            gst_video_overlay_composition_get_rectangle (upstream->overlay, i));
      for (guint i = 0; i < gst_video_overlay_composition_n_rectangles (comp); i++)
        gst_video_overlay_composition_add_rectangle (merged,
            gst_video_overlay_composition_get_rectangle (comp, i));
      gst_buffer_remove_meta (buf, (GstMeta *) upstream);
      gst_buffer_add_video_overlay_composition_meta (buf, merged);
      gst_video_overlay_composition_unref (merged);
    } else {
      gst_buffer_add_video_overlay_composition_meta (buf, comp);
    }
  } else {
    GstVideoFrame frame;

    /* Mapping for writing copies the pixels if another buffer still shares them. */
    if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READWRITE)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("could not map the %s frame for writing",
              gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info))));
      gst_buffer_unref (buf);
      gst_video_overlay_composition_unref (comp);
      return GST_FLOW_ERROR;
    }
    gst_video_overlay_composition_blend (comp, &frame);
    gst_video_frame_unmap (&frame);
  }
  ret = gst_pad_push (self->srcpad, buf);
  gst_video_overlay_composition_unref (comp);
  return ret;
}

static GstStateChangeReturn
gst_convnext_overlay_change_state (GstElement *element, GstStateChange transition)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (element);
  GstStateChangeReturn ret;

  ret = GST_ELEMENT_CLASS (gst_convnext_overlay_parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    reset_composition (self);
    gst_video_info_init (&self->info);
    self->attach = FALSE;
  }
  return ret;
}

/* ------------------------------------------------------------------------------------------
 * GObject
 * ------------------------------------------------------------------------------------------ */

static void
gst_convnext_overlay_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POSITION:
      self->props.position = g_value_get_enum (value);
      break;
    case PROP_FONT_DESC:
      g_free (self->props.font_desc);
      self->props.font_desc = g_value_dup_string (value);
      if (!self->props.font_desc)
        self->props.font_desc = g_strdup (DEFAULT_FONT_DESC);
      break;
    case PROP_LINES:
      self->props.lines = g_value_get_uint (value);
      break;
    case PROP_SHOW_SCORE:
      self->props.show_score = g_value_get_boolean (value);
      break;
    case PROP_COLOR:
      self->props.color = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  self->props_changed = TRUE;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_convnext_overlay_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POSITION:
      g_value_set_enum (value, self->props.position);
      break;
    case PROP_FONT_DESC:
      g_value_set_string (value, self->props.font_desc);
      break;
    case PROP_LINES:
      g_value_set_uint (value, self->props.lines);
      break;
    case PROP_SHOW_SCORE:
      g_value_set_boolean (value, self->props.show_score);
      break;
    case PROP_COLOR:
      g_value_set_uint (value, self->props.color);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_convnext_overlay_finalize (GObject *object)
{
  GstConvNextOverlay *self = GST_CONVNEXT_OVERLAY (object);

  reset_composition (self);
  g_free (self->props.font_desc);
  G_OBJECT_CLASS (gst_convnext_overlay_parent_class)->finalize (object);
}

static void
gst_convnext_overlay_class_init (GstConvNextOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_convnext_overlay_debug, "convnextoverlay", 0,
      "ConvNeXt classification overlay");

  gobject_class->set_property = gst_convnext_overlay_set_property;
  gobject_class->get_property = gst_convnext_overlay_get_property;
  gobject_class->finalize = gst_convnext_overlay_finalize;

  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position", "Corner of the frame the label box is drawn in",
          GST_TYPE_CONVNEXT_OVERLAY_POSITION, DEFAULT_POSITION, flags));
  g_object_class_install_property (gobject_class, PROP_FONT_DESC,
      g_param_spec_string ("font-desc", "Font description",
          "Pango font description of the labels, e.g. \"Sans Bold 16\" (size in points at 96 dpi)",
          DEFAULT_FONT_DESC, flags));
  g_object_class_install_property (gobject_class, PROP_LINES,
      g_param_spec_uint ("lines", "Lines",
          "How many of the top-k classes to show, best first (at most the number the meta holds)",
          1, MAX_LINES, DEFAULT_LINES, flags));
  g_object_class_install_property (gobject_class, PROP_SHOW_SCORE,
      g_param_spec_boolean ("show-score", "Show score",
          "Show each class's score (softmax probability, in percent) before its label",
          DEFAULT_SHOW_SCORE, flags));
  g_object_class_install_property (gobject_class, PROP_COLOR,
      g_param_spec_uint ("color", "Color", "Text color as 0xAARRGGBB (big-endian ARGB)",
          0, G_MAXUINT32, DEFAULT_COLOR, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "ConvNeXt classification overlay",
      "Filter/Editor/Video",
      "Draws the top-k labels and scores of convnextclassify on the video frames",
      "convnext project");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_convnext_overlay_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_CONVNEXT_OVERLAY_POSITION, 0);
}

static void
gst_convnext_overlay_init (GstConvNextOverlay *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_convnext_overlay_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_convnext_overlay_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_convnext_overlay_query));
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_convnext_overlay_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->props.position = DEFAULT_POSITION;
  self->props.font_desc = g_strdup (DEFAULT_FONT_DESC);
  self->props.lines = DEFAULT_LINES;
  self->props.show_score = DEFAULT_SHOW_SCORE;
  self->props.color = DEFAULT_COLOR;
  gst_video_info_init (&self->info);
}
